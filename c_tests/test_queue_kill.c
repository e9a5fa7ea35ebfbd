/*
 * test_queue_kill.c — the queue's death-safety kill loop.
 *
 * Two producer and two consumer processes share one anonymous queue (inherited over
 * fork). The parent SIGKILLs one of them at a random moment, again and again
 * (QK_KILLS times, alternating producers and consumers; `MPT_QUEUE_KILLS` overrides),
 * and starts a replacement each time. Afterwards the producers stop, the parent
 * declares end of stream, the consumers drain the queue and exit, and the parent checks:
 *
 *   - every message whose put returned MP_OK (acknowledged) was delivered exactly once:
 *     logged by a consumer whose get returned MP_OK, or — never both — found whole in
 *     the buffer of a consumer killed inside or right after its get (the get committed,
 *     the consumer died before logging it);
 *   - no message was delivered twice, and every delivered message is intact (checksum);
 *   - each consumer saw each producer's messages in increasing order;
 *   - nobody blocked forever: every blocking call has a 10 s timeout, and a timeout is a
 *     failure (consumers and producers always have a live peer within a few ms).
 *
 * Message i of producer p is (p, seq, len, payload, checksum) with a length that varies
 * from 24 to ~1,100 bytes, so records wrap around the 16 KiB ring in every way; puts and
 * gets are single or batched (put_many / get_many) at random.
 */
#include "mpt_util.h"

#define QK_PRODUCERS 2
#define QK_CONSUMERS 2
#define QK_MAX_SEQ (1u << 22)
#define QK_MAX_MSG 1200
#define QK_KILLS_DEFAULT 2000
#define QK_BATCH 4

struct qk_msg_head { uint32_t producer, seq, len, sum; };

struct qk_consumer {
    /* Where gets copy to: the parent reads it after killing the consumer. */
    unsigned char buf[QK_BATCH * QK_MAX_MSG];
    size_t lens[QK_BATCH];
    volatile int in_get; /* 1 from before the get until its messages are logged */
};

struct qk_shared {
    mp_queue_t *q;
    volatile uint32_t attempt[QK_PRODUCERS]; /* last seq a producer started to put */
    struct qk_consumer cons[QK_CONSUMERS];
    volatile int stop_producers;
    volatile uint64_t errors;
    volatile uint64_t puts, gets;
    char error_text[256];
    /* Per (producer, seq): 1 = acknowledged; deliveries counted. */
    unsigned char acked[QK_PRODUCERS][QK_MAX_SEQ];
    unsigned char delivered[QK_PRODUCERS][QK_MAX_SEQ];
    unsigned char dead_buffer[QK_PRODUCERS][QK_MAX_SEQ];
};

static struct qk_shared *S;

static void qk_fail(const char *what, mp_status st) {
    if (__atomic_fetch_add(&S->errors, 1, __ATOMIC_SEQ_CST) == 0)
        snprintf(S->error_text, sizeof S->error_text, "%s: %s", what, mp_status_name(st));
}

static uint32_t qk_rand(uint64_t *x) {
    *x ^= *x << 13; *x ^= *x >> 7; *x ^= *x << 17;
    return (uint32_t)(*x >> 11);
}

static uint32_t qk_checksum(const unsigned char *p, size_t n, uint32_t seed) {
    uint32_t h = 2166136261u ^ seed;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

static size_t qk_make(unsigned char *out, uint32_t p, uint32_t seq) {
    uint64_t x = ((uint64_t)p << 32 | seq) * 0x9E3779B97F4A7C15ull + 1;
    size_t len = sizeof(struct qk_msg_head) + 8 + qk_rand(&x) % (QK_MAX_MSG - 100);
    struct qk_msg_head h = {p, seq, (uint32_t)len, 0};
    for (size_t i = sizeof h; i < len; i++) out[i] = (unsigned char)qk_rand(&x);
    h.sum = qk_checksum(out + sizeof h, len - sizeof h, p * 31 + seq);
    memcpy(out, &h, sizeof h);
    return len;
}

/* The message's (producer, seq) if it is whole and intact, else -1. */
static int qk_check(const unsigned char *m, size_t len, uint32_t *p, uint32_t *seq) {
    struct qk_msg_head h;
    if (len < sizeof h) return -1;
    memcpy(&h, m, sizeof h);
    if (h.len != len || h.producer >= QK_PRODUCERS || h.seq >= QK_MAX_SEQ) return -1;
    if (h.sum != qk_checksum(m + sizeof h, len - sizeof h, h.producer * 31 + h.seq)) return -1;
    *p = h.producer;
    *seq = h.seq;
    return 0;
}

static int qk_producer(void *arg) {
    uint32_t p = (uint32_t)(uintptr_t)arg;
    uint64_t x = (uint64_t)getpid() * 7919 + p;
    /* A replacement skips the seq its predecessor may have put unacknowledged. */
    uint32_t seq = S->attempt[p] + 1;
    static unsigned char msgs[QK_BATCH][QK_MAX_MSG];
    while (!S->stop_producers && seq + QK_BATCH < QK_MAX_SEQ) {
        uint32_t n = qk_rand(&x) % 3 == 0 ? 1 + qk_rand(&x) % QK_BATCH : 1;
        const void *ptrs[QK_BATCH];
        size_t lens[QK_BATCH];
        for (uint32_t i = 0; i < n; i++) {
            lens[i] = qk_make(msgs[i], p, seq + i);
            ptrs[i] = msgs[i];
        }
        S->attempt[p] = seq + n - 1;
        mp_status st = n == 1 ? mp_queue_put(S->q, ptrs[0], lens[0], true, 10000)
                              : mp_queue_put_many(S->q, ptrs, lens, n, true, 10000);
        if (st != MP_OK) {
            qk_fail("put", st);
            return 1;
        }
        for (uint32_t i = 0; i < n; i++) S->acked[p][seq + i] = 1;
        __atomic_fetch_add(&S->puts, n, __ATOMIC_RELAXED);
        seq += n;
    }
    return 0;
}

static int qk_consumer(void *arg) {
    struct qk_consumer *c = &S->cons[(uintptr_t)arg];
    uint64_t x = (uint64_t)getpid() * 104729;
    uint32_t last[QK_PRODUCERS] = {0};
    for (;;) {
        size_t max = qk_rand(&x) % 3 == 0 ? QK_BATCH : 1, got = 0;
        c->in_get = 1;
        memset(c->lens, 0, sizeof c->lens);
        mp_status st = max == 1 ? mp_queue_get(S->q, c->buf, QK_MAX_MSG, &c->lens[0], true, 10000)
                                : mp_queue_get_many(S->q, c->buf, sizeof c->buf, c->lens, max, &got, true, 10000);
        if (st == MP_ECLOSED) {
            c->in_get = 0;
            return 0;
        }
        if (st != MP_OK) {
            qk_fail("get", st);
            return 1;
        }
        if (max == 1) got = 1;
        size_t off = 0;
        for (size_t i = 0; i < got; i++) {
            uint32_t p, seq;
            if (qk_check(c->buf + off, c->lens[i], &p, &seq) != 0) {
                qk_fail("torn or corrupt message delivered", MP_OK);
                return 1;
            }
            if (seq <= last[p] && last[p] != 0) {
                qk_fail("a producer's messages out of order", MP_OK);
                return 1;
            }
            last[p] = seq;
            __atomic_fetch_add(&S->delivered[p][seq], 1, __ATOMIC_SEQ_CST);
            off += c->lens[i];
        }
        __atomic_fetch_add(&S->gets, got, __ATOMIC_RELAXED);
        c->in_get = 0;
    }
}

/* After killing consumer i: every intact message in its buffer may have been consumed
 * by it (its get committed, then it died before logging). The buffer is parsed by the
 * messages' own lengths: a killed mp_queue_get may not have written its msg_len yet. */
static void qk_note_dead_buffer(int i) {
    struct qk_consumer *c = &S->cons[i];
    if (!c->in_get) return;
    size_t off = 0;
    for (size_t k = 0; k < QK_BATCH && off + sizeof(struct qk_msg_head) <= sizeof c->buf; k++) {
        struct qk_msg_head h;
        memcpy(&h, c->buf + off, sizeof h);
        uint32_t p, seq;
        if (h.len > sizeof c->buf - off || qk_check(c->buf + off, h.len, &p, &seq) != 0) break;
        S->dead_buffer[p][seq] = 1;
        off += h.len;
    }
}

/* 1 if the queue's lock word is marked "owner died" now: the victim held the lock (the
 * kernel marks the word before waitpid returns) and nobody has taken it over yet. A
 * lower bound on the kills inside the lock. Reads the layout of docs/queue.md (the lock
 * word is the embedded RLock's, at +72) rather than calling mp_inspect, which scans
 * /proc and would make each kill ~30 times slower. */
static int qk_lock_owner_died(void) {
    uint32_t word = __atomic_load_n((uint32_t *)((char *)S->q + 72), __ATOMIC_SEQ_CST);
    return (word & 0x40000000u) ? 1 : 0;
}

TEST(queue_kill_loop_delivers_every_acknowledged_message_once) {
    S = mpt_shared(sizeof *S);
    CHECK_OK(mp_queue_new(16 * 1024, &S->q));
    int seen_dead_holder = 0;
    int kills = getenv("MPT_QUEUE_KILLS") ? atoi(getenv("MPT_QUEUE_KILLS")) : QK_KILLS_DEFAULT;
    pid_t prod[QK_PRODUCERS], cons[QK_CONSUMERS];
    for (int i = 0; i < QK_PRODUCERS; i++) prod[i] = mpt_fork(qk_producer, (void *)(uintptr_t)i);
    for (int i = 0; i < QK_CONSUMERS; i++) cons[i] = mpt_fork(qk_consumer, (void *)(uintptr_t)i);
    uint64_t x = 88172645463325252ull;
    int killed_producers = 0, killed_consumers = 0;
    for (int k = 0; k < kills && S->errors == 0; k++) {
        usleep(200 + qk_rand(&x) % 1500);
        int victim = (int)(qk_rand(&x) % 2);
        if (k % 2 == 0) {
            CHECK(kill(prod[victim], SIGKILL) == 0);
            CHECK(waitpid(prod[victim], NULL, 0) == prod[victim]);
            seen_dead_holder += qk_lock_owner_died();
            prod[victim] = mpt_fork(qk_producer, (void *)(uintptr_t)victim);
            killed_producers++;
        } else {
            CHECK(kill(cons[victim], SIGKILL) == 0);
            CHECK(waitpid(cons[victim], NULL, 0) == cons[victim]);
            seen_dead_holder += qk_lock_owner_died();
            qk_note_dead_buffer(victim);
            cons[victim] = mpt_fork(qk_consumer, (void *)(uintptr_t)victim);
            killed_consumers++;
        }
    }
    S->stop_producers = 1;
    for (int i = 0; i < QK_PRODUCERS; i++) mpt_wait_ok(prod[i]);
    CHECK_OK(mp_queue_close_producer(S->q));
    for (int i = 0; i < QK_CONSUMERS; i++) mpt_wait_ok(cons[i]);
    if (S->errors) {
        fprintf(stderr, "%llu errors, first: %s\n", (unsigned long long)S->errors, S->error_text);
        CHECK(S->errors == 0);
    }
    uint64_t acked = 0, delivered = 0, to_dead = 0, unacked_delivered = 0;
    for (int p = 0; p < QK_PRODUCERS; p++) {
        for (uint32_t s = 0; s < QK_MAX_SEQ; s++) {
            unsigned d = S->delivered[p][s];
            if (d > 1) {
                fprintf(stderr, "message %d/%u delivered %u times\n", p, s, d);
                CHECK(d <= 1);
            }
            delivered += d;
            if (!S->acked[p][s]) {
                unacked_delivered += d;
                continue;
            }
            acked++;
            if (d == 0) {
                if (!S->dead_buffer[p][s]) {
                    fprintf(stderr, "acknowledged message %d/%u was never delivered\n", p, s);
                    CHECK(0);
                }
                to_dead++;
            }
        }
    }
    size_t left = 99;
    CHECK_OK(mp_queue_size(S->q, &left));
    CHECK(left == 0);
    CHECK_OK(mp_queue_close(S->q));
    printf("kills: %d producers + %d consumers (%d seen holding the lock); acknowledged %llu, delivered %llu "
           "(+%llu consumed by killed consumers; %llu unacknowledged delivered)\n",
           killed_producers, killed_consumers, seen_dead_holder, (unsigned long long)acked, (unsigned long long)delivered,
           (unsigned long long)to_dead, (unsigned long long)unacked_delivered);
    CHECK(killed_producers + killed_consumers >= kills);
    CHECK(acked > 0);
}
