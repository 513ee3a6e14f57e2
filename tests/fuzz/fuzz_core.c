/* Fuzz harness for the compiled data path's parser (tapliance/fastpath/core.c), built with AddressSanitizer and
 * UndefinedBehaviorSanitizer by tests/unit/test_fastpath_fuzz.py and run there for a bounded time:
 *
 *   gcc -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -Itapliance/fastpath \
 *       tapliance/fastpath/core.c tapliance/fastpath/sodium.c tests/fuzz/fuzz_core.c -lcrypto -o fuzz_core \
 *       && ./fuzz_core SECONDS SEED
 *
 * fuzz_one() takes one input (4 bytes of segment size and offset, then a received buffer) and feeds it to every
 * function that reads a datagram; every buffer is malloc'd at its exact size, so a read or write one byte
 * past it is an ASan report. The driver makes inputs that reach past the tag check: frames sealed with the
 * harness's key (both suites, random sizes, flags, counters near 2^64), then mangled (bit flips, cuts,
 * header fields overwritten, bytes appended, a wrong segment size) or left intact, in which case every run
 * must open to exactly the frame sealed. Built with -DLIBFUZZER, the file is a libFuzzer target instead. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"

static tl_aead tx[2], rx[2];
static tl_replay window;
static unsigned long runs_opened, datagrams_opened;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_core: invariant broken: %s\n", what);
        abort();
    }
}

static void setup(void)
{
    uint8_t key[32];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(i * 7 + 1);
    for (int s = 0; s < 2; s++)
        check(tl_aead_init(&tx[s], s + 1, key, 1) == 0 && tl_aead_init(&rx[s], s + 1, key, 0) == 0, "keys");
    tl_replay_init(&window);
}

/* One input: data[0..1] segment size, data[2..3] offset (little-endian), data[4] suite, the rest the buffer. */
static int fuzz_one(const uint8_t *data, size_t len, const uint8_t *want, size_t want_len)
{
    if (len < 5)
        return 0;
    size_t seg = (size_t)data[0] | (size_t)data[1] << 8, off = (size_t)data[2] | (size_t)data[3] << 8;
    int s = data[4] & 1;
    size_t n = len - 5;
    uint8_t *buf = malloc(n ? n : 1);
    memcpy(buf, data + 5, n);
    unsigned fcnt = 0;
    long size = tl_run_size(buf, n, off, seg, &fcnt);
    if (size >= 0) {
        uint8_t *out = malloc(size ? (size_t)size : 1);
        int rc = tl_open_run(&rx[s], &window, buf, n, off, seg, out, (size_t)size);
        if (rc == TL_OK) {
            runs_opened++;
            check(want == NULL || ((size_t)size == want_len && memcmp(out, want, want_len) == 0), "run == frame");
        }
        free(out);
    }
    tl_header h;
    for (size_t o = 0; seg > 0 && o < n; o += seg) {
        size_t m = n - o < seg ? n - o : seg;
        uint8_t *d = malloc(m), *out = malloc(m >= TL_OVERHEAD ? m - TL_OVERHEAD + 1 : 1);
        memcpy(d, buf + o, m);
        tl_header_read(d, m, &h);
        if (m >= TL_OVERHEAD && tl_open_one(&rx[s], &window, d, m, data[4] & 2, out, m - TL_OVERHEAD) == TL_OK)
            datagrams_opened++;
        free(d);
        free(out);
    }
    free(buf);
    return 0;
}

#ifdef LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    static int ready;
    if (!ready) {
        tl_sodium_load(); /* small messages through libsodium where it is, as the module does */
        setup();
        ready = 1;
    }
    return fuzz_one(data, len, NULL, 0);
}
#else
#include "mangle.h"

/* One round: a frame sealed with random parameters, maybe mangled, as one input to fuzz_one. */
static void round_once(uint8_t *in, size_t cap)
{
    size_t n = rnd() % 4 == 0 ? rnd() % 70000 : rnd() % 3000, max_chunk = 400 + rnd() % 9000, seg = 0;
    unsigned count;
    size_t size;
    int s = (int)(rnd() & 1), intact = rnd() % 3 == 0;
    uint64_t counter = rnd() % 8 == 0 ? UINT64_MAX - rnd() % 300 : window.last + rnd() % 9000;
    if (rnd() % 50 == 0)
        tl_replay_init(&window);
    uint8_t *frame = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++)
        frame[i] = (uint8_t)rnd();
    size_t len = 0;
    if (tl_layout(n, max_chunk, &count, &size) == 0 && n + TL_OVERHEAD * count + 5 <= cap) {
        len = n + TL_OVERHEAD * count;
        check(tl_seal_frame(&tx[s], frame, n, max_chunk, (uint8_t)(rnd() & 3), 42, counter, in + 5, len, &seg) == 0,
              "seal");
        if (!intact)
            len = mangle(in + 5, len, cap - 5);
    }
    if (rnd() % 4 == 0)
        seg = rnd() % 2000;
    size_t off = (!intact && rnd() % 8 == 0) ? rnd() % 3000 : 0;
    in[0] = (uint8_t)seg, in[1] = (uint8_t)(seg >> 8), in[2] = (uint8_t)off, in[3] = (uint8_t)(off >> 8);
    in[4] = (uint8_t)(s | (rnd() % 20 == 0 ? 2 : 0));
    uint8_t *exact = malloc(len + 5);
    memcpy(exact, in, len + 5);
    fuzz_one(exact, len + 5, intact && !(in[4] & 2) ? frame : NULL, n);
    free(exact);
    free(frame);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    rng_state = argc > 2 ? strtoull(argv[2], NULL, 10) | 1 : 88172645463325252ull;
    tl_sodium_load();
    setup();
    size_t cap = 70000 + TL_OVERHEAD * TL_MAX_FRAGMENTS + 128;
    uint8_t *in = malloc(cap);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned long rounds = 0;
    do {
        for (int i = 0; i < 64; i++, rounds++)
            round_once(in, cap);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
    printf("fuzz_core: %lu inputs, %lu runs and %lu datagrams opened, no sanitizer report\n", rounds, runs_opened,
           datagrams_opened);
    free(in);
    for (int s = 0; s < 2; s++) {
        tl_aead_free(&tx[s]);
        tl_aead_free(&rx[s]);
    }
    return 0;
}
#endif
