/* The cost of one small seal right after an idle spell, the compiled path's own core (scripts/benchlib/coldseal.py
 * builds and runs it): a 108-byte frame (a ping with its virtio-net header) sealed and opened after each sleep,
 * and again at once, warm. argv: rounds, sleep in ms, "sodium" to load libsodium as the module does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core.h"

static double us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec * 1e-3;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 200, sleep_ms = argc > 2 ? atoi(argv[2]) : 20;
    int sodium = argc > 3 && strcmp(argv[3], "sodium") == 0 && tl_sodium_load();
    uint8_t key[32] = {1}, frame[108], out[256], plain[256];
    tl_aead tx, rx;
    tl_replay window;
    tl_replay_init(&window);
    memset(frame, 7, sizeof frame);
    if (tl_aead_init(&tx, 1, key, 1) != 0 || tl_aead_init(&rx, 1, key, 0) != 0)
        return 2;
    double t[4] = {0};
    size_t seg, len = sizeof frame + TL_OVERHEAD;
    for (int i = 0; i < rounds; i++) {
        usleep((useconds_t)sleep_ms * 1000);
        for (int warm = 0; warm < 2; warm++) {
            uint64_t counter = (uint64_t)(2 * i + warm);
            double t0 = us();
            if (tl_seal_frame(&tx, frame, sizeof frame, 1400, 0, 9, counter, out, len, &seg) != 0)
                return 3;
            double t1 = us();
            if (tl_open_one(&rx, &window, out, len, 0, plain, sizeof frame) != 0)
                return 4;
            t[2 * warm] += t1 - t0;
            t[2 * warm + 1] += us() - t1;
        }
    }
    printf("%s: seal after %d ms idle %.2f us, open %.2f us; warm seal %.2f us, open %.2f us\n",
           sodium ? "libsodium" : "OpenSSL", sleep_ms, t[0] / rounds, t[1] / rounds, t[2] / rounds, t[3] / rounds);
    return 0;
}
