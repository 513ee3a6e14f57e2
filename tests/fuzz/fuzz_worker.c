/* Fuzz harness for the worker thread's receive and send paths (tapliance/fastpath/worker.c, wsend.c, wrun.c,
 * whold.c), built with AddressSanitizer and UndefinedBehaviorSanitizer by tests/unit/test_fastpath_fuzz.py:
 *
 *   gcc -g -O1 -fsanitize=address,undefined -pthread -Itapliance/fastpath tapliance/fastpath/{core,sodium,session,
 *       worker,wsend,wrun,whold}.c tests/fuzz/fuzz_worker.c -lcrypto -o fuzz_worker && ./fuzz_worker SECONDS SEED VNET
 *
 * A real worker thread runs on a loopback UDP socket (with UDP_GRO) and a datagram socketpair for its TAP, and
 * a second, send-only one (a multi-queue TAP's second queue) on its own socketpair, sealing with the same session.
 * The harness is the far end: it seals frames with the far end's session, mangles most of them (bit flips,
 * cuts, header bytes overwritten, bytes appended), and sends them as one GSO burst (a GRO batch at the
 * worker), with a wrong segment size, or one by one (runs collected across receive calls, wrun.c), from the
 * peer's address or another one; it writes frames of every size to the TAP, flips python_rx and the hold, drains what the
 * worker delivers, sends and hands up.
 * Frames sent intact as one burst from the peer must arrive on the TAP exactly; the run ends with the
 * worker stopped and everything freed (LeakSanitizer checks that too). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mangle.h"
#include "worker.h"

#define CHUNK 1400
static tl_worker w, w2; /* w2: a send-only worker on a second TAP queue, sealing with the same session */
static tl_replay our_window, far_window;
static tl_session ours, far;
static int tap_far, tap2_far, peer, other;
static unsigned long delivered, intact_sent, inputs;

static int udp_socket(struct sockaddr_in *addr)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    socklen_t len = sizeof *addr;
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s < 0 || bind(s, (struct sockaddr *)addr, sizeof *addr) != 0 || getsockname(s, (void *)addr, &len) != 0)
        abort();
    return s;
}

static struct sockaddr_in worker_addr;

static void setup(int vnet)
{
    uint8_t k1[32], k2[32];
    for (int i = 0; i < 32; i++)
        k1[i] = (uint8_t)i, k2[i] = (uint8_t)(32 + i);
    tl_replay_init(&our_window);
    tl_replay_init(&far_window);
    if (tl_session_init(&ours, 1, k1, k2, &our_window) || tl_session_init(&far, 1, k2, k1, &far_window))
        abort();
    int pair[2];
    struct sockaddr_in pa, oa;
    if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, pair) != 0)
        abort();
    tap_far = pair[1];
    int sock = udp_socket(&worker_addr), on = 1;
    setsockopt(sock, SOL_UDP, 104 /* UDP_GRO */, &on, sizeof on);
    peer = udp_socket(&pa);
    other = udp_socket(&oa);
    if (tl_worker_init(&w, pair[0], sock, vnet, 1, CHUNK, 0) != 0)
        abort();
    w.steer_fd = pair[0]; /* a multi-queue TAP's steering (wsend.c) parses every delivered frame; one socket */
    w.tx = &ours;
    w.tx_remote = 9;
    w.tx_until = 1e12;
    memcpy(&w.peer, &pa, sizeof pa);
    w.peer_len = sizeof pa;
    w.rx[0] = (tl_rx_slot){.index = 7, .s = &ours, .until = 1e12};
    int pair2[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, pair2) != 0
        || tl_worker_init(&w2, pair2[0], sock, vnet, 1, CHUNK, 1) != 0)
        abort();
    tap2_far = pair2[1];
    w2.tx = &ours;
    w2.tx_remote = 9;
    w2.tx_until = 1e12;
    memcpy(&w2.peer, &pa, sizeof pa);
    w2.peer_len = sizeof pa;
    if (tl_worker_start(&w) != 0 || tl_worker_start(&w2) != 0)
        abort();
}

static void send_burst(int from, const uint8_t *buf, size_t len, size_t seg)
{
    char cbuf[CMSG_SPACE(sizeof(uint16_t))] = {0};
    struct iovec iov = {(void *)buf, len};
    struct msghdr m = {.msg_name = &worker_addr, .msg_namelen = sizeof worker_addr, .msg_iov = &iov, .msg_iovlen = 1};
    if (len > seg) {
        m.msg_control = cbuf;
        m.msg_controllen = sizeof cbuf;
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = 103; /* UDP_SEGMENT */
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        uint16_t s16 = (uint16_t)seg;
        memcpy(CMSG_DATA(c), &s16, sizeof s16);
    }
    if (sendmsg(from, &m, 0) < 0) { /* a segment size the kernel refuses: this input is not sent */
    }
}

static void drain(void)
{
    static uint8_t buf[1 << 17];
    static tl_item items[TL_RING];
    while (recv(tap_far, buf, sizeof buf, 0) >= 0)
        delivered++;
    while (recv(peer, buf, sizeof buf, 0) >= 0) {
    }
    unsigned k = tl_worker_take(&w, items, TL_RING);
    for (unsigned i = 0; i < k; i++) {
        delivered += items[i].kind == TL_UP_TAP; /* opened, queued for the TAP behind what waited for the core */
        free(items[i].data);
    }
    k = tl_worker_take(&w2, items, TL_RING);
    for (unsigned i = 0; i < k; i++)
        free(items[i].data);
}

static void round_once(uint8_t *frame, uint8_t *out, size_t cap)
{
    size_t n = rnd() % 3 == 0 ? 14 + rnd() % 40000 : rnd() % 1600, seg;
    unsigned count;
    for (size_t i = 0; i < n; i++)
        frame[i] = (uint8_t)rnd();
    if (rnd() % 4 == 0) { /* a TAP frame on either queue: its worker seals and sends it, or hands it up */
        if (send(rnd() % 2 ? tap2_far : tap_far, frame, n, 0) < 0) {
        }
        return;
    }
    size_t size, len;
    if (tl_layout(n, CHUNK, &count, &size) != 0)
        return;
    len = n + (size_t)TL_OVERHEAD * count;
    uint8_t flags = (uint8_t)(rnd() % 8 == 0 ? rnd() : (w.tap_vnet ? rnd() % 2 : 0));
    if (tl_session_seal(&far, 0, frame, n, CHUNK, flags, 7, out, len, &seg, &count) != 0)
        abort();
    int intact = rnd() % 3 == 0;
    if (!intact)
        len = mangle(out, len, cap);
    int from = rnd() % 8 == 0 ? other : peer;
    if (rnd() % 4 == 0 && len > 0) {
        for (size_t o = 0; o < len; o += seg)
            send_burst(from, out + o, len - o < seg ? len - o : seg, seg);
    } else {
        size_t s = intact || rnd() % 2 ? seg : 1 + rnd() % (seg + 64);
        send_burst(from, out, len, s);
    }
    intact_sent += intact && from == peer;
    inputs++;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2;
    rng_state = argc > 2 ? strtoull(argv[2], NULL, 10) | 1 : 1;
    tl_sodium_load(); /* small messages through libsodium where it is, as the module does */
    setup(argc > 3 ? atoi(argv[3]) : 0);
    size_t cap = 65536 + (size_t)TL_OVERHEAD * TL_MAX_FRAGMENTS;
    uint8_t *frame = malloc(65536), *out = malloc(cap);
    double end = tl_now() + seconds;
    while (tl_now() < end) {
        for (int i = 0; i < 32; i++)
            round_once(frame, out, cap);
        pthread_mutex_lock(&w.lock);
        w.python_rx = rnd() % 16 == 0;
        tl_rx_slot next[TL_RX_SLOTS] = {w.rx[0]}; /* as an install does: a hold asked or not, runs up */
        int asked[TL_RX_SLOTS] = {rnd() % 8 == 0};
        next[0].hold_limit = rnd() % 8192;
        w.loss_hold = rnd() % 2 ? 0 : rnd() % 64;
        if (rnd() % 2) /* mangled datagrams are gaps: end the hold now and then, as one ends past its limit */
            w.rx[0].holding = 0;
        tl_holds_installed(w.rx, next, asked);
        memcpy(w.rx, next, sizeof next);
        tl_run_installed(&w);
        pthread_mutex_unlock(&w.lock);
        poll(NULL, 0, 1);
        drain();
    }
    poll(NULL, 0, 50);
    drain();
    tl_worker_free(&w);
    tl_worker_free(&w2);
    tl_session_free(&ours);
    tl_session_free(&far);
    free(frame);
    free(out);
    printf("inputs %lu delivered %lu intact %lu: no sanitizer report\n", inputs, delivered, intact_sent);
    return delivered > 0 ? 0 : 1;
}
