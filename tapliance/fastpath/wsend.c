/* The worker's sending half (worker.h): TAP frames sealed and sent, with UDP GSO where the kernel has it. */
#define _GNU_SOURCE
#include "worker.h"

#include <errno.h>
#include <netinet/udp.h>
#include <string.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

#define GSO_MAX_SEGMENTS 64 /* runtime/udp.py */
#define GSO_MAX_BYTES 65000

static void count_send_error(tl_worker *w, int err)
{
    w->n[err == EAGAIN || err == EWOULDBLOCK ? TL_N_TX_BUSY : err == EMSGSIZE ? TL_N_TX_TOO_BIG : TL_N_TX_ERROR]++;
}

static int send_one(tl_worker *w, const uint8_t *buf, size_t len)
{
    if (sendto(w->sock_fd, buf, len, MSG_DONTWAIT, (const struct sockaddr *)&w->peer, w->peer_len) < 0)
        return errno;
    return 0;
}

/* A buffer of equal datagrams back to back (the last may be shorter): GSO sends, or one by one. */
static void send_buffer(tl_worker *w, const uint8_t *buf, size_t len, size_t seg)
{
    int err = 0;
    if (len <= seg) {
        if ((err = send_one(w, buf, len)) != 0)
            count_send_error(w, err);
        return;
    }
    if (w->gso) {
        size_t per = GSO_MAX_BYTES / seg < GSO_MAX_SEGMENTS ? GSO_MAX_BYTES / seg : GSO_MAX_SEGMENTS;
        size_t step = per * seg;
        char cbuf[CMSG_SPACE(sizeof(uint16_t))] = {0};
        for (size_t off = 0; off < len; off += step) {
            size_t k = len - off < step ? len - off : step;
            struct iovec iov = {(void *)(buf + off), k};
            struct msghdr m = {.msg_name = &w->peer, .msg_namelen = w->peer_len, .msg_iov = &iov, .msg_iovlen = 1};
            m.msg_control = cbuf;
            m.msg_controllen = sizeof cbuf;
            struct cmsghdr *c = CMSG_FIRSTHDR(&m);
            c->cmsg_level = SOL_UDP;
            c->cmsg_type = UDP_SEGMENT;
            c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
            uint16_t s16 = (uint16_t)seg;
            memcpy(CMSG_DATA(c), &s16, sizeof s16);
            if (sendmsg(w->sock_fd, &m, MSG_DONTWAIT) < 0) {
                err = errno;
                if (err != EIO && err != EINVAL && err != ENOPROTOOPT && err != EOPNOTSUPP) {
                    count_send_error(w, err);
                    return;
                }
                w->gso = 0; /* not usable here: the rest one by one */
                buf += off;
                len -= off;
                goto single;
            }
            w->n[TL_N_GSO_SENDS]++;
            w->n[TL_N_GSO_DATAGRAMS] += (k + seg - 1) / seg;
        }
        return;
    }
single:
    for (size_t off = 0; off < len; off += seg)
        if ((err = send_one(w, buf + off, len - off < seg ? len - off : seg)) != 0) {
            count_send_error(w, err);
            return;
        }
}

static void flush_batch(tl_worker *w)
{
    if (w->batch_len)
        send_buffer(w, w->batch_buf, w->batch_len, w->batch_seg);
    w->batch_len = 0;
    w->batch_count = 0;
    w->batch_closed = 0;
}

/* Where a sealed frame of out_len bytes in count datagrams goes: a single datagram joins the batch of equal
 * ones (the last may be shorter), which leaves as one GSO send like a super-frame's fragments, as
 * runtime/udp.py send_all does; a frame of several datagrams goes alone, after the batch. */
static uint8_t *destination(tl_worker *w, size_t out_len, unsigned count)
{
    if (count > 1) {
        flush_batch(w);
        return w->seal_buf;
    }
    if (w->batch_len
        && (w->batch_closed || out_len > w->batch_seg || w->batch_len + out_len > GSO_MAX_BYTES
            || w->batch_count >= GSO_MAX_SEGMENTS))
        flush_batch(w);
    return w->batch_buf + w->batch_len;
}

/* One frame from the TAP; 0: not ours to send (no session, expired, a runt, too big): hand it up. */
static int send_frame(tl_worker *w, const uint8_t *frame, size_t n, double now)
{
    size_t o = w->tap_vnet ? TL_VNET_HDR : 0, seg;
    unsigned count;
    if (w->tx == NULL || n < 14 + o || now >= w->tx_until)
        return 0;
    if (tl_layout(n, w->max_chunk, &count, &seg) != 0)
        return 0;
    size_t out_len = n + (size_t)TL_OVERHEAD * count;
    uint8_t flags = w->tap_vnet ? TL_FLAG_VNET : 0;
    uint8_t *dst = destination(w, out_len, count);
    if (tl_session_seal(w->tx, w->queue, frame, n, w->max_chunk, flags, w->tx_remote, dst, out_len, &seg, &count)
        != 0)
        return 0;
    if (count > 1) {
        send_buffer(w, dst, out_len, seg);
    } else {
        if (w->batch_len == 0)
            w->batch_seg = out_len;
        else if (out_len < w->batch_seg)
            w->batch_closed = 1;
        w->batch_len += out_len;
        w->batch_count++;
    }
    w->n[TL_N_TX_BYTES] += n - o;
    w->n[TL_N_TX_FRAMES]++;
    w->last_sent = now;
    if (w->awaiting == 0)
        w->awaiting = now;
    return 1;
}

/* The TAP is readable: up to TL_BATCH frames or TL_BUDGET bytes, then what is batched leaves. */
void tl_on_tap(tl_worker *w)
{
    long budget = TL_BUDGET;
    pthread_mutex_lock(&w->lock);
    for (int i = 0; i < TL_BATCH && budget > 0; i++) {
        ssize_t n = read(w->tap_fd, w->tap_buf, TL_READ_SIZE);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                w->n[TL_N_TAP_ERROR]++;
            break;
        }
        budget -= n;
        if (!send_frame(w, w->tap_buf, (size_t)n, tl_now()))
            tl_hand_up(w, TL_UP_FRAME, w->tap_buf, (size_t)n, NULL);
    }
    flush_batch(w);
    pthread_mutex_unlock(&w->lock);
}

/* -- a multi-queue TAP: which queue a received frame is written to ---------------------------------------- */

/* The kernel sends a flow's frames out of the TAP queue that last wrote that flow (tun's flow steering, a
 * symmetric hash), so the queue each received frame is written to decides which worker seals the flow's
 * replies. A symmetric hash of the IPv4/IPv6 addresses and TCP/UDP ports picks it; anything else: the first. */
int tl_tap_write_fd(const tl_worker *w, const uint8_t *frame, size_t len)
{
    size_t o = w->tap_vnet ? TL_VNET_HDR : 0;
    if (w->steer_fd < 0 || len < o + 14 + 40)
        return w->tap_fd;
    const uint8_t *e = frame + o, *ip = e + 14;
    uint32_t h = 0;
    size_t l4;
    uint8_t proto;
    if (e[12] == 0x08 && e[13] == 0x00) {
        for (int i = 0; i < 4; i++)
            h ^= (uint32_t)(ip[12 + i] ^ ip[16 + i]) << (8 * i);
        proto = ip[9];
        l4 = 14 + (size_t)(ip[0] & 0x0f) * 4;
    } else if (e[12] == 0x86 && e[13] == 0xdd) {
        for (int i = 0; i < 16; i++)
            h ^= (uint32_t)(ip[8 + i] ^ ip[24 + i]) << (8 * (i % 4));
        proto = ip[6];
        l4 = 14 + 40;
    } else {
        return w->tap_fd;
    }
    if ((proto == 6 || proto == 17) && o + l4 + 4 <= len)
        h ^= (uint32_t)((e[l4] ^ e[l4 + 2]) << 8 | (e[l4 + 1] ^ e[l4 + 3]));
    h ^= h >> 16;
    h ^= h >> 8;
    return (h ^ h >> 4 ^ h >> 2 ^ h >> 1) & 1 ? w->steer_fd : w->tap_fd;
}
