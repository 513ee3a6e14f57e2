/* A keypair's data path under its two locks (session.h). */
#include "session.h"

int tl_session_init(tl_session *s, int suite_id, const uint8_t send_key[32], const uint8_t recv_key[32],
                    tl_replay *window)
{
    s->window = window;
    s->counter = s->sent_bytes = 0;
    s->recv.ctx = NULL;
    pthread_mutex_init(&s->send_lock, NULL);
    pthread_mutex_init(&s->recv_lock, NULL);
    for (int q = 0; q < TL_QUEUES; q++) {
        s->send[q].ctx = NULL;
        pthread_mutex_init(&s->seal_lock[q], NULL);
    }
    for (int q = 0; q < TL_QUEUES; q++)
        if (tl_aead_init(&s->send[q], suite_id, send_key, 1) != 0)
            return -1;
    return tl_aead_init(&s->recv, suite_id, recv_key, 0) != 0 ? -1 : 0;
}

void tl_session_free(tl_session *s)
{
    for (int q = 0; q < TL_QUEUES; q++) {
        tl_aead_free(&s->send[q]);
        pthread_mutex_destroy(&s->seal_lock[q]);
    }
    tl_aead_free(&s->recv);
    pthread_mutex_destroy(&s->send_lock);
    pthread_mutex_destroy(&s->recv_lock);
}

int tl_session_seal(tl_session *s, int queue, const uint8_t *frame, size_t n, size_t max_chunk, uint8_t flags,
                    uint32_t remote, uint8_t *out, size_t out_len, size_t *seg, unsigned *count)
{
    size_t size;
    if (queue < 0 || queue >= TL_QUEUES || tl_layout(n, max_chunk, count, &size) != 0
        || out_len != n + (size_t)TL_OVERHEAD * *count)
        return -1;
    pthread_mutex_lock(&s->send_lock);
    uint64_t first = s->counter; /* only a failing EVP call, below, leaves these counters unused */
    s->counter += *count;
    s->sent_bytes += n;
    pthread_mutex_unlock(&s->send_lock);
    pthread_mutex_lock(&s->seal_lock[queue]);
    int rc = tl_seal_frame(&s->send[queue], frame, n, max_chunk, flags, remote, first, out, out_len, seg);
    pthread_mutex_unlock(&s->seal_lock[queue]);
    return rc;
}

int tl_session_open_one(tl_session *s, const uint8_t *dgram, size_t len, int expired, uint8_t *out, size_t out_len)
{
    pthread_mutex_lock(&s->recv_lock);
    int rc = tl_open_one(&s->recv, s->window, dgram, len, expired, out, out_len);
    pthread_mutex_unlock(&s->recv_lock);
    return rc;
}

int tl_session_open_run(tl_session *s, const uint8_t *buf, size_t len, size_t off, size_t seg, uint8_t *out,
                        size_t out_len)
{
    pthread_mutex_lock(&s->recv_lock);
    int rc = tl_open_run(&s->recv, s->window, buf, len, off, seg, out, out_len);
    pthread_mutex_unlock(&s->recv_lock);
    return rc;
}

uint64_t tl_session_counter(tl_session *s)
{
    pthread_mutex_lock(&s->send_lock);
    uint64_t c = s->counter;
    pthread_mutex_unlock(&s->send_lock);
    return c;
}

void tl_session_set_counter(tl_session *s, uint64_t counter)
{
    pthread_mutex_lock(&s->send_lock);
    s->counter = counter;
    pthread_mutex_unlock(&s->send_lock);
}
