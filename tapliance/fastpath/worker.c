/* The worker thread (worker.h): one epoll over the TAP, the UDP socket and a stop eventfd. */
#define _GNU_SOURCE
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/udp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#ifndef UDP_GRO
#define UDP_GRO 104
#endif


double tl_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t); /* Python's time.monotonic() */
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* -- handing up to the Python loop (the caller holds the lock) ------------------------------------------- */

tl_item *tl_hand_up(tl_worker *w, int kind, const uint8_t *data, size_t len, const struct sockaddr_storage *addr)
{
    if (w->count == TL_RING || w->queued + len > TL_RING_BYTES) {
        w->n[TL_N_UP_FULL]++;
        return NULL;
    }
    uint8_t *copy = malloc(len ? len : 1);
    if (copy == NULL) {
        w->n[TL_N_UP_FULL]++;
        return NULL;
    }
    memcpy(copy, data, len);
    tl_item *it = &w->ring[(w->head + w->count) % TL_RING];
    it->data = copy;
    it->len = len;
    it->seg = 0;
    it->kind = kind;
    it->to_tap = kind == TL_UP_TAP || kind == TL_UP_RUN || (kind == TL_UP_DATAGRAM && len > 0 && data[0] == TL_MSG_DATA);
    w->to_tap += (unsigned)it->to_tap;
    w->queued += len;
    if (addr != NULL)
        it->addr = *addr;
    else
        memset(&it->addr, 0, sizeof it->addr);
    w->n[TL_N_HANDED_UP]++;
    if (w->count++ == 0) {
        uint64_t one = 1;
        if (write(w->notify_fd, &one, sizeof one) < 0) { /* the counter only saturates: nothing to do */
        }
    }
    return it;
}

void tl_hand_up_run(tl_worker *w, const uint8_t *data, size_t len, size_t seg, const struct sockaddr_storage *addr)
{
    tl_item *it = tl_hand_up(w, TL_UP_RUN, data, len, addr);
    if (it != NULL) {
        it->seg = seg;
        w->n[TL_N_RUNS_HELD]++;
    }
}

unsigned tl_worker_take(tl_worker *w, tl_item *out, unsigned max)
{
    pthread_mutex_lock(&w->lock);
    unsigned k = w->count < max ? w->count : max;
    for (unsigned i = 0; i < k; i++) {
        out[i] = w->ring[(w->head + i) % TL_RING];
        w->queued -= out[i].len;
        w->to_tap -= (unsigned)out[i].to_tap;
    }
    w->head = (w->head + k) % TL_RING;
    w->count -= k;
    pthread_mutex_unlock(&w->lock);
    return k;
}

/* -- receiving ------------------------------------------------------------------------------------------- */

int tl_same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
    }
    return 0;
}

/* A frame of the peer's, opened at w->open_buf + TL_VNET_HDR, to the TAP in our TAP's framing. */
static void deliver(tl_worker *w, size_t len, uint8_t flags)
{
    uint8_t *frame = w->open_buf + TL_VNET_HDR;
    size_t o = flags & TL_FLAG_VNET ? TL_VNET_HDR : 0;
    if (len < 14 + o) {
        w->n[TL_N_RUNT]++;
        return;
    }
    w->n[TL_N_RX_BYTES] += len - o;
    w->n[TL_N_RX_FRAMES]++;
    if (w->tap_vnet && !o) { /* a plain frame for a TAP with virtio-net headers: a zero header in front */
        frame -= TL_VNET_HDR;
        memset(frame, 0, TL_VNET_HDR);
        len += TL_VNET_HDR;
    }
    if (w->to_tap > 0) { /* data before it waits for the core: the frame waits behind it (handshakes do not count) */
        tl_hand_up(w, TL_UP_TAP, frame, len, NULL);
        return;
    }
    if (write(tl_tap_write_fd(w, frame, len), frame, len) < 0)
        w->n[errno == EAGAIN || errno == EWOULDBLOCK ? TL_N_TAP_BUSY : TL_N_TAP_ERROR]++;
}

static void authenticated(tl_worker *w, double now)
{
    w->last_received = now;
    w->awaiting = 0;
}

tl_rx_slot *tl_slot_for(tl_worker *w, uint32_t index)
{
    for (int i = 0; i < TL_RX_SLOTS; i++)
        if (w->rx[i].s != NULL && w->rx[i].index == index)
            return &w->rx[i];
    return NULL;
}

/* A data datagram of the peer's for an installed session (header h): opened to the TAP, collected into a
 * run (wrun.c), or handed up; returns how many datagrams of the batch it used. */
static size_t on_data(tl_worker *w, size_t n, size_t off, size_t seg, const tl_header *h, tl_rx_slot *slot,
                      const struct sockaddr_storage *src, double now)
{
    const uint8_t *buf = w->recv_buf, *d = buf + off;
    size_t len = n - off < seg ? n - off : seg;
    if (h->fcnt == 1 && !w->run_have) {
        int rc = tl_session_open_one(slot->s, d, len, 0, w->open_buf + TL_VNET_HDR, len - TL_OVERHEAD);
        if (rc == TL_OK) {
            authenticated(w, now);
            if (len > TL_OVERHEAD)
                deliver(w, len - TL_OVERHEAD, h->flags);
        } else {
            w->n[rc == TL_REPLAY ? TL_N_REPLAY : rc == TL_EXPIRED ? TL_N_EXPIRED : TL_N_DECRYPT]++;
        }
        return 1;
    }
    if (h->fcnt > 1 && h->fidx == 0 && !w->run_have) { /* the whole run in this batch: opened in place */
        unsigned fcnt;
        long size = tl_run_size(buf, n, off, seg, &fcnt);
        if (size >= 0 && (size_t)size <= TL_RECV_SIZE) {
            if (tl_session_open_run(slot->s, buf, n, off, seg, w->open_buf + TL_VNET_HDR, (size_t)size) != TL_OK) {
                tl_hand_up(w, TL_UP_DATAGRAM, d, len, src); /* the core finds and counts the bad one */
                return 1;
            }
            authenticated(w, now);
            deliver(w, (size_t)size, h->flags);
            return fcnt;
        }
    }
    long size = tl_run_take(w, d, len, h, slot, src, now, 0);
    if (size == TL_RUN_NOT_MINE) {
        tl_hand_up(w, TL_UP_DATAGRAM, d, len, src);
        if (h->fcnt > 1) /* a fragment the core will reassemble: it sees what its rules need */
            tl_hold(w, slot, h);
    } else if (size >= 0) {
        authenticated(w, now);
        deliver(w, (size_t)size, h->flags);
    }
    return 1;
}

/* A data datagram of a session the core holds (tl_held said so, and kept the hold's count): up, and a whole
 * frame run up as one item, from this batch or collected across receive calls (worker.h, the hold); returns
 * how many datagrams of the batch it used. */
static size_t on_held(tl_worker *w, size_t n, size_t off, size_t seg, const tl_header *h, tl_rx_slot *slot,
                      const struct sockaddr_storage *src, double now)
{
    const uint8_t *d = w->recv_buf + off;
    size_t len = n - off < seg ? n - off : seg;
    unsigned fcnt;
    if (h->fcnt > 1 && h->fidx == 0 && !w->run_have && tl_run_size(w->recv_buf, n, off, seg, &fcnt) >= 0) {
        size_t end = off + (size_t)fcnt * seg < n ? off + (size_t)fcnt * seg : n;
        tl_hand_up_run(w, d, end - off, seg, src);
        tl_header t = *h;
        for (unsigned i = 1; i < fcnt; i++) { /* the hold's count of the run's other datagrams */
            t.fidx = (uint8_t)i;
            t.counter = h->counter + i;
            tl_held(w, slot, &t);
        }
        return fcnt;
    }
    if (tl_run_take(w, d, len, h, slot, src, now, 1) == TL_RUN_NOT_MINE)
        tl_hand_up(w, TL_UP_DATAGRAM, d, len, src);
    return 1;
}

/* The datagrams of one receive call (a GRO batch of seg-byte datagrams, or one); the caller holds the lock. */
static void on_batch(tl_worker *w, size_t n, size_t seg, const struct sockaddr_storage *src, double now)
{
    const uint8_t *buf = w->recv_buf;
    int peer = tl_same_addr(src, &w->peer);
    size_t off = 0;
    if (n == 0)
        tl_hand_up(w, TL_UP_DATAGRAM, buf, 0, src); /* an empty datagram: Python counts it short */
    while (off < n) {
        size_t len = n - off < seg ? n - off : seg;
        const uint8_t *d = buf + off;
        tl_header h;
        tl_rx_slot *slot = NULL;
        if (peer && !w->python_rx && len >= TL_OVERHEAD && tl_header_read(d, len, &h) == 0 && h.type == TL_MSG_DATA
            && !(h.flags & ~TL_FLAGS_KNOWN) && !(h.flags & TL_FLAG_CONTROL) && (w->tap_vnet || !(h.flags & TL_FLAG_VNET))
            && h.fidx < h.fcnt && (slot = tl_slot_for(w, h.receiver)) != NULL && now < slot->until) {
            size_t used = tl_held(w, slot, &h) ? on_held(w, n, off, seg, &h, slot, src, now)
                                               : on_data(w, n, off, seg, &h, slot, src, now);
            off += used * seg;
            continue;
        }
        if (w->run_have && len > 0 && d[0] == TL_MSG_DATA)
            tl_run_flush(w); /* whatever it is, the core sees it after the datagrams before it */
        tl_hand_up(w, TL_UP_DATAGRAM, d, len, src);
        off += seg;
    }
    tl_run_check(w, now);
}

static void on_socket(tl_worker *w)
{
    long budget = TL_BUDGET;
    for (int i = 0; i < TL_BATCH && budget > 0; i++) {
        struct sockaddr_storage src;
        char cbuf[CMSG_SPACE(sizeof(int))];
        struct iovec iov = {w->recv_buf, TL_RECV_SIZE};
        struct msghdr m = {.msg_name = &src, .msg_namelen = sizeof src, .msg_iov = &iov, .msg_iovlen = 1};
        m.msg_control = cbuf;
        m.msg_controllen = sizeof cbuf;
        ssize_t n = recvmsg(w->sock_fd, &m, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno != EINTR) { /* e.g. an ICMP error reported on the socket */
                pthread_mutex_lock(&w->lock);
                w->n[TL_N_RX_ERROR]++;
                pthread_mutex_unlock(&w->lock);
            }
            continue;
        }
        size_t seg = (size_t)n;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c))
            if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
                int g;
                memcpy(&g, CMSG_DATA(c), sizeof g);
                if (g > 0 && (size_t)g < seg)
                    seg = (size_t)g;
            }
        budget -= n;
        double now = tl_now();
        pthread_mutex_lock(&w->lock);
        if (seg < (size_t)n) {
            w->n[TL_N_GRO_RECEIVES]++;
            w->n[TL_N_GRO_DATAGRAMS] += ((size_t)n + seg - 1) / seg;
        }
        on_batch(w, (size_t)n, seg ? seg : 1, &src, now);
        pthread_mutex_unlock(&w->lock);
    }
}

/* -- the thread ------------------------------------------------------------------------------------------ */

static void *run(void *arg)
{
    tl_worker *w = arg;
    struct epoll_event ev[4];
    for (;;) {
        pthread_mutex_lock(&w->lock);
        int waiting = w->run_have != 0;
        pthread_mutex_unlock(&w->lock);
        int k = epoll_wait(w->ep, ev, 4, waiting ? TL_RUN_WAIT_MS : -1);
        if (k < 0 && errno != EINTR)
            return NULL;
        if (k == 0) { /* a run left incomplete: the core's from here */
            pthread_mutex_lock(&w->lock);
            tl_run_check(w, tl_now());
            pthread_mutex_unlock(&w->lock);
        }
        for (int i = 0; i < k; i++) {
            int fd = ev[i].data.fd;
            if (fd == w->stop_fd)
                return NULL;
            if (fd == w->tap_fd)
                tl_on_tap(w);
            else
                on_socket(w);
        }
    }
}

int tl_worker_init(tl_worker *w, int tap_fd, int sock_fd, int tap_vnet, int gso, size_t max_chunk, int queue)
{
    memset(w, 0, sizeof *w);
    w->tap_fd = tap_fd;
    w->sock_fd = sock_fd;
    w->tap_vnet = tap_vnet;
    w->gso = gso;
    w->max_chunk = max_chunk;
    w->loss_hold = TL_LOSS_HOLD;
    w->queue = queue;
    w->steer_fd = -1;
    w->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    w->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    w->tap_buf = malloc(TL_READ_SIZE);
    w->seal_buf = malloc(TL_READ_SIZE + (size_t)TL_OVERHEAD * TL_MAX_FRAGMENTS);
    w->recv_buf = malloc(TL_RECV_SIZE);
    w->open_buf = malloc(TL_VNET_HDR + TL_RECV_SIZE);
    w->batch_buf = malloc(TL_READ_SIZE + TL_OVERHEAD);
    w->run_buf = malloc(TL_RECV_SIZE);
    pthread_mutex_init(&w->lock, NULL);
    if (w->notify_fd < 0 || w->stop_fd < 0 || w->ep < 0 || !w->tap_buf || !w->seal_buf || !w->recv_buf || !w->open_buf
        || !w->batch_buf || !w->run_buf)
        return -1;
    int fds[3] = {w->stop_fd, tap_fd, sock_fd};
    for (int i = 1; i < 3; i++) { /* a blocking read would hold the thread where stop() cannot reach it */
        int fl = fcntl(fds[i], F_GETFL);
        if (fl < 0 || fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) != 0)
            return -1;
    }
    for (int i = 0; i < (queue > 0 ? 2 : 3); i++) { /* a queue past the first sends only: no socket to read */
        struct epoll_event e = {.events = EPOLLIN, .data.fd = fds[i]};
        if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fds[i], &e) != 0)
            return -1;
    }
    return 0;
}

int tl_worker_start(tl_worker *w)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* signals stay the interpreter's: the thread blocks them all */
    int rc = pthread_create(&w->thread, NULL, run, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0)
        w->started = 1;
    return rc;
}

void tl_worker_stop(tl_worker *w)
{
    if (!w->started)
        return;
    uint64_t one = 1;
    if (write(w->stop_fd, &one, sizeof one) < 0) { /* an eventfd write of 1 does not fail here */
    }
    pthread_join(w->thread, NULL);
    w->started = 0;
}

void tl_worker_free(tl_worker *w)
{
    tl_worker_stop(w);
    for (unsigned i = 0; i < w->count; i++)
        free(w->ring[(w->head + i) % TL_RING].data);
    w->count = 0;
    w->to_tap = 0;
    int fds[3] = {w->notify_fd, w->stop_fd, w->ep};
    for (int i = 0; i < 3; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    w->notify_fd = w->stop_fd = w->ep = -1;
    free(w->tap_buf);
    free(w->seal_buf);
    free(w->recv_buf);
    free(w->open_buf);
    free(w->batch_buf);
    free(w->run_buf);
    w->tap_buf = w->seal_buf = w->recv_buf = w->open_buf = w->batch_buf = w->run_buf = NULL;
    pthread_mutex_destroy(&w->lock);
}
