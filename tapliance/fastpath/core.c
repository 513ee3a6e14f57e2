/* The compiled data path's protocol core: see core.h. Functions here are at most 60 lines (as the Python
 * code's), the file at most 400 (tests/unit/test_code_shape.py). */
#include "core.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void wr64(uint8_t *p, uint64_t v)
{
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}

int tl_header_read(const uint8_t *buf, size_t len, tl_header *h)
{
    if (len < TL_HEADER_LEN)
        return -1;
    h->type = buf[0];
    h->flags = buf[1];
    h->fidx = buf[2];
    h->fcnt = buf[3];
    h->receiver = rd32(buf + 4);
    h->counter = rd64(buf + 8);
    return 0;
}

void tl_header_write(uint8_t *buf, const tl_header *h)
{
    buf[0] = h->type;
    buf[1] = h->flags;
    buf[2] = h->fidx;
    buf[3] = h->fcnt;
    wr32(buf + 4, h->receiver);
    wr64(buf + 8, h->counter);
}

/* -- the replay window: RFC 6479, exactly tapliance/proto/replay.py ---------------------------------------- */

void tl_replay_init(tl_replay *w)
{
    memset(w, 0, sizeof *w);
}

int tl_replay_check(const tl_replay *w, uint64_t counter)
{
    if (!w->any || counter > w->last)
        return 1;
    if (w->last - counter >= TL_WINDOW)
        return 0;
    return !((w->ring[(counter >> 6) & (TL_BLOCKS - 1)] >> (counter & 63)) & 1);
}

int tl_replay_commit(tl_replay *w, uint64_t counter)
{
    if (w->any && counter <= w->last && !tl_replay_check(w, counter))
        return 0;
    if (!w->any || counter > w->last) {
        int64_t cur = w->any ? (int64_t)(w->last >> 6) : -1;
        int64_t next = (int64_t)(counter >> 6);
        int64_t slide = next - cur < TL_BLOCKS ? next - cur : TL_BLOCKS;
        for (int64_t i = 1; i <= slide; i++)
            w->ring[(uint64_t)(cur + i) & (TL_BLOCKS - 1)] = 0;
        w->last = counter;
        w->any = 1;
    }
    w->ring[(counter >> 6) & (TL_BLOCKS - 1)] |= (uint64_t)1 << (counter & 63);
    return 1;
}

int tl_replay_check_run(const tl_replay *w, uint64_t first, unsigned count)
{
    if (!w->any || first > w->last)
        return 1;
    for (unsigned i = 0; i < count; i++) {
        uint64_t c = first + i;
        if (c < first)
            break; /* past 2^64: above anything committed */
        if (!tl_replay_check(w, c))
            return 0;
    }
    return 1;
}

void tl_replay_commit_run(tl_replay *w, uint64_t first, unsigned count)
{
    if (count == 0 || first + (count - 1) < first)
        return;
    tl_replay_commit(w, first + (count - 1));
    for (unsigned i = 0; i + 1 < count; i++) {
        uint64_t c = first + i;
        w->ring[(c >> 6) & (TL_BLOCKS - 1)] |= (uint64_t)1 << (c & 63);
    }
}

/* -- AEAD: one EVP context per key, keyed once; each message sets only the nonce ------------------------- */

int tl_aead_init(tl_aead *a, int suite_id, const uint8_t key[32], int encrypt)
{
    const EVP_CIPHER *cipher = suite_id == 1 ? EVP_chacha20_poly1305() : suite_id == 2 ? EVP_aes_256_gcm() : NULL;
    a->ctx = NULL;
    if (cipher == NULL)
        return -1;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        return -1;
    if (EVP_CipherInit_ex(ctx, cipher, NULL, key, NULL, encrypt) != 1) {
        EVP_CIPHER_CTX_free(ctx);
        return -1;
    }
    a->ctx = ctx;
    a->suite = suite_id;
    memcpy(a->key, key, sizeof a->key);
    return 0;
}

void tl_aead_free(tl_aead *a)
{
    EVP_CIPHER_CTX_free((EVP_CIPHER_CTX *)a->ctx);
    a->ctx = NULL;
    OPENSSL_cleanse(a->key, sizeof a->key);
}

static void nonce96(uint8_t nonce[12], uint64_t counter)
{
    memset(nonce, 0, 4);
    wr64(nonce + 4, counter);
}

/* out receives n bytes of ciphertext and the 16-byte tag; ad is the 16-byte data header. */
static int seal(tl_aead *a, uint64_t counter, const uint8_t *ad, const uint8_t *in, size_t n, uint8_t *out)
{
    EVP_CIPHER_CTX *ctx = a->ctx;
    uint8_t nonce[12];
    int len;
    nonce96(nonce, counter);
    int small = tl_small_seal(a, nonce, ad, in, n, out);
    if (small != 1)
        return small;
    if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1 || EVP_EncryptUpdate(ctx, NULL, &len, ad, TL_HEADER_LEN) != 1)
        return -1;
    if (n > 0 && EVP_EncryptUpdate(ctx, out, &len, in, (int)n) != 1)
        return -1;
    if (EVP_EncryptFinal_ex(ctx, out + n, &len) != 1)
        return -1;
    return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TL_TAG_LEN, out + n) == 1 ? 0 : -1;
}

/* in holds n >= 16 bytes (ciphertext and tag); out receives n - 16. 0 if the tag verified. */
static int open1(tl_aead *a, uint64_t counter, const uint8_t *ad, const uint8_t *in, size_t n, uint8_t *out)
{
    EVP_CIPHER_CTX *ctx = a->ctx;
    uint8_t nonce[12], tag[TL_TAG_LEN];
    size_t m = n - TL_TAG_LEN;
    int len;
    if (n < TL_TAG_LEN)
        return -1;
    memcpy(tag, in + m, TL_TAG_LEN);
    nonce96(nonce, counter);
    int small = tl_small_open(a, nonce, ad, in, m, tag, out);
    if (small != 1)
        return small;
    if (EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1 || EVP_DecryptUpdate(ctx, NULL, &len, ad, TL_HEADER_LEN) != 1)
        return -1;
    if (m > 0 && EVP_DecryptUpdate(ctx, out, &len, in, (int)m) != 1)
        return -1;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TL_TAG_LEN, tag) != 1)
        return -1;
    return EVP_DecryptFinal_ex(ctx, out + m, &len) == 1 ? 0 : -1;
}

/* -- frames out ------------------------------------------------------------------------------------------ */

int tl_layout(size_t n, size_t max_chunk, unsigned *count, size_t *size)
{
    if (max_chunk == 0)
        return -1;
    size_t c = n == 0 ? 1 : (n + max_chunk - 1) / max_chunk;
    if (c > TL_MAX_FRAGMENTS)
        return -1;
    *count = (unsigned)c;
    *size = n == 0 ? 0 : (n + c - 1) / c;
    return 0;
}

/* Seal a frame into out (n + TL_OVERHEAD * count bytes), datagrams of *seg bytes back to back, the last one
 * possibly shorter, under counters first .. first + count - 1: what Keypair.seal_frame builds. */
int tl_seal_frame(tl_aead *a, const uint8_t *frame, size_t n, size_t max_chunk, uint8_t flags, uint32_t remote,
                  uint64_t first, uint8_t *out, size_t out_len, size_t *seg)
{
    unsigned count;
    size_t size;
    if (tl_layout(n, max_chunk, &count, &size) != 0 || out_len != n + (size_t)TL_OVERHEAD * count)
        return -1;
    *seg = size + TL_OVERHEAD;
    tl_header h = {TL_MSG_DATA, flags, 0, (uint8_t)count, remote, 0};
    size_t pos = 0, off = 0;
    for (unsigned i = 0; i < count; i++) {
        size_t chunk = i + 1 < count ? size : n - pos;
        h.fidx = (uint8_t)i;
        h.counter = first + i;
        tl_header_write(out + off, &h);
        if (seal(a, h.counter, out + off, frame + pos, chunk, out + off + TL_HEADER_LEN) != 0)
            return -1;
        pos += chunk;
        off += chunk + TL_OVERHEAD;
    }
    return 0;
}

/* -- datagrams in ---------------------------------------------------------------------------------------- */

/* One data datagram whose receiver index the caller has looked up: replay check, expiry, open, commit. */
int tl_open_one(tl_aead *a, tl_replay *w, const uint8_t *dgram, size_t len, int expired, uint8_t *out,
                size_t out_len)
{
    tl_header h;
    if (len < TL_OVERHEAD || out_len != len - TL_OVERHEAD || tl_header_read(dgram, len, &h) != 0)
        return TL_ERROR;
    if (!tl_replay_check(w, h.counter))
        return TL_REPLAY;
    if (expired)
        return TL_EXPIRED;
    if (open1(a, h.counter, dgram, dgram + TL_HEADER_LEN, len - TL_HEADER_LEN, out) != 0)
        return TL_DECRYPT;
    return tl_replay_commit(w, h.counter) ? TL_OK : TL_REPLAY;
}

/* The frame length of the run starting at off, or -1 if it is not one: a data header with fragment index 0
 * and count > 1 and known flags; every datagram of the frame present in the batch, the last one a whole
 * data datagram whose header says it is the same frame's last fragment (flags, count, receiver, counter). */
long tl_run_size(const uint8_t *buf, size_t len, size_t off, size_t seg, unsigned *fcnt)
{
    tl_header h, t;
    if (seg < TL_OVERHEAD || off >= len || tl_header_read(buf + off, len - off, &h) != 0)
        return -1;
    if (h.type != TL_MSG_DATA || h.fidx != 0 || h.fcnt < 2 || (h.flags & ~TL_FLAGS_KNOWN))
        return -1;
    size_t span = (size_t)(h.fcnt - 1) * seg;
    if (span > len - off)
        return -1;
    size_t last = off + span;
    size_t end = len - last < seg ? len : last + seg;
    if (end - last < TL_OVERHEAD || tl_header_read(buf + last, end - last, &t) != 0)
        return -1;
    if (h.counter > UINT64_MAX - (uint64_t)(h.fcnt - 1))
        return -1;
    if (t.type != TL_MSG_DATA || t.flags != h.flags || t.fidx != h.fcnt - 1 || t.fcnt != h.fcnt
        || t.receiver != h.receiver || t.counter != h.counter + (h.fcnt - 1))
        return -1;
    *fcnt = h.fcnt;
    return (long)((seg - TL_OVERHEAD) * (h.fcnt - 1) + (end - last - TL_OVERHEAD));
}

/* Open the run at off into out (tl_run_size bytes): one replay check for the run, every datagram opened with
 * its own header as associated data, one commit. Nothing changes unless every datagram authenticates. */
int tl_open_run(tl_aead *a, tl_replay *w, const uint8_t *buf, size_t len, size_t off, size_t seg, uint8_t *out,
                size_t out_len)
{
    unsigned fcnt;
    long size = tl_run_size(buf, len, off, seg, &fcnt);
    tl_header h;
    if (size < 0 || (size_t)size != out_len)
        return TL_NOT_RUN;
    tl_header_read(buf + off, len - off, &h);
    if (!tl_replay_check_run(w, h.counter, fcnt))
        return TL_REPLAY;
    size_t chunk = seg - TL_OVERHEAD, o = off;
    for (unsigned i = 0; i < fcnt; i++) {
        size_t n = i + 1 < fcnt ? seg : len - o < seg ? len - o : seg;
        if (open1(a, h.counter + i, buf + o, buf + o + TL_HEADER_LEN, n - TL_HEADER_LEN, out + i * chunk) != 0)
            return TL_DECRYPT;
        o += seg;
    }
    tl_replay_commit_run(w, h.counter, fcnt);
    return TL_OK;
}
