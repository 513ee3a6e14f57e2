/* The worker (issue 16, step 3): a thread that owns the TAP and the UDP socket of one point-to-point peer and
 * runs its established session without the interpreter: TAP read -> seal -> (GSO) send; (GRO) receive ->
 * index -> replay check -> open -> commit -> TAP write. Everything else is handed up to the Python loop
 * unchanged, through a bounded queue and an eventfd: TAP frames while no session is installed (Python queues
 * them and starts a handshake), datagrams that are not data, come from another address (roaming), name an
 * index the worker was not given (a new or unconfirmed keypair), carry the control flag or framing our TAP
 * cannot take, fragments that do not make a whole frame run (wrun.c collects runs across receive calls), and
 * the datagrams Python's reassembler still needs (a hold, tl_rx_slot).
 *
 * The Python core installs what the worker may use (install()): the send session, the peer's receiver index
 * and endpoint, and up to TL_RX_SLOTS receive sessions, each with the monotonic time it expires and what its
 * reassembler still needs. Plain C, no
 * Python: wmodule.c wraps it. Counters (bytes, frames, drops by reason) are read and reset by the loop. */
#ifndef TAPLIANCE_FASTPATH_WORKER_H
#define TAPLIANCE_FASTPATH_WORKER_H

#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include "session.h"

#define TL_RX_SLOTS 3
#define TL_RING 2048
#define TL_RING_BYTES (4 << 20) /* what the queue may hold: a bound on memory while Python is slow */
#define TL_VNET_HDR 10
#define TL_FLAG_VNET 0x01
#define TL_FLAG_CONTROL 0x02

/* FRAME: a TAP frame to send; DATAGRAM: a datagram to receive; TAP: an opened frame for the TAP, queued behind
 * what waits for the core (the TAP sees frames in the order their datagrams came); RUN: a held session's frame
 * run, whole and in order, unopened: the core takes it as one GRO batch of seg-byte datagrams (a hold, below) */
enum tl_up_kind { TL_UP_FRAME = 0, TL_UP_DATAGRAM = 1, TL_UP_TAP = 2, TL_UP_RUN = 3 };

enum tl_count {
    TL_N_TX_BYTES, TL_N_TX_FRAMES, TL_N_RX_BYTES, TL_N_RX_FRAMES, /* per peer, without virtio-net headers */
    TL_N_REPLAY, TL_N_EXPIRED, TL_N_DECRYPT, TL_N_RUNT,          /* drops, by the Python core's reasons */
    TL_N_TAP_BUSY, TL_N_TAP_ERROR, TL_N_TX_BUSY, TL_N_TX_ERROR, TL_N_TX_TOO_BIG, TL_N_RX_ERROR,
    TL_N_UP_FULL,                                                /* the hand-up queue was full */
    TL_N_HANDED_UP, TL_N_GSO_SENDS, TL_N_GSO_DATAGRAMS, TL_N_GRO_RECEIVES, TL_N_GRO_DATAGRAMS,
    TL_N_RUNS_JOINED, TL_N_RUNS_HANDED_UP, /* frame runs collected across receive calls (wrun.c) */
    TL_N_RUNS_HELD,                        /* ... and whole runs handed up as one item, under a hold */
    TL_N_COUNT
};

typedef struct {
    uint8_t *data;
    size_t len;
    size_t seg; /* RUN: the datagrams' stride */
    int kind;
    int to_tap; /* may reach the TAP through the core (a data datagram, an opened frame): frames wait behind it */
    struct sockaddr_storage addr;
} tl_item;

/* A hold: the Python core reassembles partial frames of this session, and the worker hands it every datagram
 * of the session up to hold_limit. The worker starts a hold whenever it hands a fragment up, to TL_LOSS_HOLD
 * counters past that fragment's frame, and widens it at every gap it hands up; the core's install can widen
 * it too (Reassembler.hold: each partial frame's rest and REORDER_WINDOW more, which its rules need). After
 * the limit, at a frame's start, the worker takes the session's datagrams again.
 *
 * Why TL_LOSS_HOLD and not just the reorder window: measured with the bench's lab and lossy test (benchlib
 * Runner.tcp_lossy: 1% random loss, single-stream TCP; docs/architecture.md), handing the session back after
 * the window (32) gave 0.6-0.95 Gbit/s, after 128 about 1.0, after 512 or more 1.19-1.34 (the core taking every
 * fragment: 1.14-1.35): under sustained loss the core keeps the session, and the TCP stream is CPU-bound
 * instead of loss-bound. Without loss nothing is held.
 *
 * What is held still goes up in the order it came, but a frame run that arrives whole and in order (in one GRO
 * batch, or collected across receive calls as wrun.c does) goes up as one item (TL_UP_RUN), which the core
 * opens as it opens a GRO batch's run (receive.py _open_run: the same rules, one call instead of one per
 * datagram); whatever has a gap still goes up datagram by datagram. */
#define TL_LOSS_HOLD 1024

typedef struct {
    uint32_t index;
    tl_session *s;
    double until;
    int holding;
    uint64_t hold_limit;
    uint64_t up_next; /* 1 + the highest counter handed up in a hold: what came after, a gap */
} tl_rx_slot;

typedef struct {
    int tap_fd, sock_fd, notify_fd, stop_fd, ep;
    int tap_vnet, gso, started;
    int queue; /* which send context (session.h); a worker past the first sends only: the first receives */
    int steer_fd; /* the first's: the second queue's fd, where half the flows' frames are written; -1: none */
    size_t max_chunk;
    pthread_t thread;
    pthread_mutex_t lock; /* everything below */
    tl_session *tx;
    uint32_t tx_remote;
    double tx_until;
    struct sockaddr_storage peer;
    socklen_t peer_len;
    tl_rx_slot rx[TL_RX_SLOTS];
    int python_rx; /* hand every datagram up */
    uint64_t loss_hold; /* TL_LOSS_HOLD, or what Worker(loss_hold=) says (tests) */
    tl_item ring[TL_RING];
    unsigned head, count;
    unsigned to_tap; /* items in the queue with to_tap set */
    size_t queued; /* bytes in the queue */
    uint64_t n[TL_N_COUNT];
    double last_sent, last_received, awaiting; /* awaiting: first send since the last receive, 0: none */
    uint8_t *tap_buf, *seal_buf, *recv_buf, *open_buf;
    uint8_t *batch_buf; /* single-datagram frames waiting to leave as one GSO send (wsend.c) */
    size_t batch_len, batch_seg;
    unsigned batch_count;
    int batch_closed;
    uint8_t *run_buf; /* a frame run collected across receive calls, unopened (wrun.c) */
    size_t run_len, run_seg;
    unsigned run_have;
    int run_held; /* collected under a hold: whole, it goes up as one item instead of being opened */
    tl_header run_h; /* its first datagram's header */
    struct sockaddr_storage run_src;
    double run_since;
} tl_worker;

int tl_worker_init(tl_worker *w, int tap_fd, int sock_fd, int tap_vnet, int gso, size_t max_chunk, int queue);
int tl_worker_start(tl_worker *w);
void tl_worker_stop(tl_worker *w);
void tl_worker_free(tl_worker *w);
/* Within the worker (worker.c, wsend.c): the clock, handing up (the lock held), the TAP's readiness. */
#define TL_READ_SIZE (65536 + 512) /* runtime/loop.py READ_SIZE */
#define TL_BATCH 64                /* reads per readiness event, as the Python loop */
#define TL_BUDGET (192 << 10)      /* ... or bytes */
#define TL_RECV_SIZE (1 << 17)     /* one receive call, and the most a collected run holds: runtime/udp.py RECV_SIZE */
double tl_now(void);
tl_item *tl_hand_up(tl_worker *w, int kind, const uint8_t *data, size_t len, const struct sockaddr_storage *addr);
void tl_hand_up_run(tl_worker *w, const uint8_t *data, size_t len, size_t seg, const struct sockaddr_storage *addr);
void tl_on_tap(tl_worker *w);
int tl_tap_write_fd(const tl_worker *w, const uint8_t *frame, size_t len);
/* Holds (whold.c): start or widen one for datagram h, handed up; merge an install's; is h the core's? */
void tl_hold(tl_worker *w, tl_rx_slot *s, const tl_header *h);
int tl_held(tl_worker *w, tl_rx_slot *s, const tl_header *h);
void tl_holds_installed(const tl_rx_slot old[TL_RX_SLOTS], tl_rx_slot now[TL_RX_SLOTS], const int asked[TL_RX_SLOTS]);
int tl_same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
tl_rx_slot *tl_slot_for(tl_worker *w, uint32_t index); /* the installed receive session with this index */
/* Frame runs across receive calls (wrun.c; the lock held). tl_run_take: a data datagram of the peer's, for an
 * installed session (held: one the core holds, tl_held): TL_RUN_NOT_MINE (the caller hands it up), TL_RUN_HELD
 * (kept, or handed up with the run), or the size of the frame it completed, opened at open_buf + TL_VNET_HDR. */
#define TL_RUN_WAIT_MS 5                  /* an incomplete run goes up after this (fragments.py REORDER_TIME) */
#define TL_RUN_WAIT (TL_RUN_WAIT_MS * 1e-3) /* ... in seconds, as tl_now() counts */
#define TL_RUN_NOT_MINE (-2)
#define TL_RUN_HELD (-1)
long tl_run_take(tl_worker *w, const uint8_t *d, size_t len, const tl_header *h, tl_rx_slot *slot,
                 const struct sockaddr_storage *src, double now, int held);
void tl_run_flush(tl_worker *w);
void tl_run_check(tl_worker *w, double now);
void tl_run_installed(tl_worker *w);
/* Take the queue's items (the caller frees each item's data); returns how many were copied to out. */
unsigned tl_worker_take(tl_worker *w, tl_item *out, unsigned max);

#endif
