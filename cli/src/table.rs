//! A text table whose column widths come from its rows, so that a long cell (a long
//! name, a long list of mappers) widens its column instead of pushing the rest of its
//! line out of line. The last column is not padded: it may be as long as it likes.
//!
//! Widths count characters. Every cell is escaped text (`escape`), so it has no control
//! character, but a double-width character (CJK, some emoji) in a cell still counts as
//! one column: such names are no library object's, and rare.

/// How a column's cells are aligned.
#[derive(Clone, Copy)]
pub enum Align {
    Left,
    Right,
}

/// A column: its title, its alignment and its smallest width (so that a listing of
/// short names keeps a familiar shape).
pub struct Column {
    pub title: &'static str,
    pub align: Align,
    pub min_width: usize,
}

/// The header line and one line per row. Every row has one cell per column (a missing
/// cell is empty, an extra one ignored).
pub fn lines(columns: &[Column], rows: &[Vec<String>]) -> Vec<String> {
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|cell| cell.chars().count())
                .chain([c.title.chars().count(), c.min_width])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let titles: Vec<String> = columns.iter().map(|c| c.title.to_string()).collect();
    std::iter::once(&titles)
        .chain(rows)
        .map(|row| line(columns, &widths, row))
        .collect()
}

fn line(columns: &[Column], widths: &[usize], row: &[String]) -> String {
    let last = columns.len().saturating_sub(1);
    let mut out = String::new();
    for (i, (c, &w)) in columns.iter().zip(widths).enumerate() {
        let cell = row.get(i).map_or("", String::as_str);
        if i > 0 {
            out.push(' ');
        }
        let pad = " ".repeat(w.saturating_sub(cell.chars().count()));
        match c.align {
            Align::Left if i == last => out.push_str(cell),
            Align::Left => {
                out.push_str(cell);
                out.push_str(&pad);
            }
            Align::Right => {
                out.push_str(&pad);
                out.push_str(cell);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_come_from_the_rows() {
        let columns = [
            Column {
                title: "NAME",
                align: Align::Left,
                min_width: 6,
            },
            Column {
                title: "N",
                align: Align::Right,
                min_width: 0,
            },
            Column {
                title: "STATE",
                align: Align::Left,
                min_width: 0,
            },
        ];
        let rows = vec![
            vec!["a".to_string(), "1".to_string(), "free".to_string()],
            vec![
                "a-much-longer-name".to_string(),
                "100".to_string(),
                "x".to_string(),
            ],
        ];
        assert_eq!(
            lines(&columns, &rows),
            [
                "NAME                 N STATE",
                "a                    1 free",
                "a-much-longer-name 100 x",
            ]
        );
    }
}
