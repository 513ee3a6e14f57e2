/* The worker (issue 16, step 3): a thread that owns the TAP and the UDP socket of one point-to-point peer and
 * runs its established session without the interpreter: TAP read -> seal -> (GSO) send; (GRO) receive ->
 * index -> replay check -> open -> commit -> TAP write. Everything else is handed up to the Python loop
 * unchanged, through a bounded queue and an eventfd: TAP frames while no session is installed (Python queues
 * them and starts a handshake), datagrams that are not data, come from another address (roaming), name an
 * index the worker was not given (a new or unconfirmed keypair), carry the control flag or framing our TAP
 * cannot take, fragments that are not a whole frame run, and all datagrams while Python reassembles.
 *
 * The Python core installs what the worker may use (install()): the send session, the peer's receiver index
 * and endpoint, and up to TL_RX_SLOTS receive sessions, each with the monotonic time it expires. Plain C, no
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

enum tl_up_kind { TL_UP_FRAME = 0, TL_UP_DATAGRAM = 1 };

enum tl_count {
    TL_N_TX_BYTES, TL_N_TX_FRAMES, TL_N_RX_BYTES, TL_N_RX_FRAMES, /* per peer, without virtio-net headers */
    TL_N_REPLAY, TL_N_EXPIRED, TL_N_DECRYPT, TL_N_RUNT,          /* drops, by the Python core's reasons */
    TL_N_TAP_BUSY, TL_N_TAP_ERROR, TL_N_TX_BUSY, TL_N_TX_ERROR, TL_N_TX_TOO_BIG, TL_N_RX_ERROR,
    TL_N_UP_FULL,                                                /* the hand-up queue was full */
    TL_N_HANDED_UP, TL_N_GSO_SENDS, TL_N_GSO_DATAGRAMS, TL_N_GRO_RECEIVES, TL_N_GRO_DATAGRAMS,
    TL_N_COUNT
};

typedef struct {
    uint8_t *data;
    size_t len;
    int kind;
    struct sockaddr_storage addr;
} tl_item;

typedef struct {
    uint32_t index;
    tl_session *s;
    double until;
} tl_rx_slot;

typedef struct {
    int tap_fd, sock_fd, notify_fd, stop_fd, ep;
    int tap_vnet, gso, started;
    size_t max_chunk;
    pthread_t thread;
    pthread_mutex_t lock; /* everything below */
    tl_session *tx;
    uint32_t tx_remote;
    double tx_until;
    struct sockaddr_storage peer;
    socklen_t peer_len;
    tl_rx_slot rx[TL_RX_SLOTS];
    int python_rx; /* hand every datagram up (the Python core is reassembling) */
    tl_item ring[TL_RING];
    unsigned head, count;
    size_t queued; /* bytes in the queue */
    uint64_t n[TL_N_COUNT];
    double last_sent, last_received, awaiting; /* awaiting: first send since the last receive, 0: none */
    uint8_t *tap_buf, *seal_buf, *recv_buf, *open_buf;
    uint8_t *batch_buf; /* single-datagram frames waiting to leave as one GSO send (wsend.c) */
    size_t batch_len, batch_seg;
    unsigned batch_count;
    int batch_closed;
} tl_worker;

int tl_worker_init(tl_worker *w, int tap_fd, int sock_fd, int tap_vnet, int gso, size_t max_chunk);
int tl_worker_start(tl_worker *w);
void tl_worker_stop(tl_worker *w);
void tl_worker_free(tl_worker *w);
/* Within the worker (worker.c, wsend.c): the clock, handing up (the lock held), the TAP's readiness. */
#define TL_READ_SIZE (65536 + 512) /* runtime/loop.py READ_SIZE */
#define TL_BATCH 64                /* reads per readiness event, as the Python loop */
#define TL_BUDGET (192 << 10)      /* ... or bytes */
double tl_now(void);
void tl_hand_up(tl_worker *w, int kind, const uint8_t *data, size_t len, const struct sockaddr_storage *addr);
void tl_on_tap(tl_worker *w);
/* Take the queue's items (the caller frees each item's data); returns how many were copied to out. */
unsigned tl_worker_take(tl_worker *w, tl_item *out, unsigned max);

#endif
