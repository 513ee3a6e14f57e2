/* Small messages through libsodium, when the system has it (core.h, "tl_small_*").
 *
 * Why: the first AEAD operation after the worker has slept costs far more than the next ones, and most of it is
 * OpenSSL 3's EVP_EncryptInit_ex setting the nonce, a long call chain whose code is cold after every idle spell.
 * Measured on the bench machine (scripts/benchlib/coldseal.c: one 108-byte seal after each 20 ms sleep, 200
 * times): OpenSSL 24 us per seal (13-15 us of it the nonce), libsodium 12.9 us; warm 0.95 against 0.68 us. A
 * ping pays for the first operation on each side: ping RTT through the worker went from 0.234 to 0.208 ms
 * (fastd 0.211; the bench's lab and its ping, 5 interleaved rounds of 100; docs/performance.md has
 * scripts/bench's figures). For bulk data OpenSSL's assembly is faster (1400-byte seals: about 10 against 7.3
 * Gbit/s on one core), so only messages of at most TL_SMALL bytes take libsodium; both are RFC 8439
 * ChaCha20-Poly1305 and give the same bytes (the compiled-vs-Python tests check both sides of the threshold).
 *
 * libsodium is loaded with dlopen (libsodium.so.23, Debian's libsodium23, which python3-nacl depends on), not
 * linked: where it is missing every message takes OpenSSL, and nothing else changes. tl_sodium_load runs once,
 * at import, before any worker thread starts; crypto_aead_chacha20poly1305_ietf_* are safe to call from any
 * thread once sodium_init has returned. */
#include <dlfcn.h>

#include "core.h"

typedef int (*enc_fn)(unsigned char *c, unsigned char *mac, unsigned long long *maclen, const unsigned char *m,
                      unsigned long long mlen, const unsigned char *ad, unsigned long long adlen,
                      const unsigned char *nsec, const unsigned char *npub, const unsigned char *k);
typedef int (*dec_fn)(unsigned char *m, unsigned char *nsec, const unsigned char *c, unsigned long long clen,
                      const unsigned char *mac, const unsigned char *ad, unsigned long long adlen,
                      const unsigned char *npub, const unsigned char *k);

static enc_fn enc;
static dec_fn dec;

int tl_sodium_load(void)
{
    if (enc != NULL)
        return 1;
    void *h = dlopen("libsodium.so.23", RTLD_NOW | RTLD_LOCAL);
    if (h == NULL)
        return 0;
    int (*init)(void) = (int (*)(void))dlsym(h, "sodium_init");
    enc_fn e = (enc_fn)dlsym(h, "crypto_aead_chacha20poly1305_ietf_encrypt_detached");
    dec_fn d = (dec_fn)dlsym(h, "crypto_aead_chacha20poly1305_ietf_decrypt_detached");
    if (init == NULL || e == NULL || d == NULL || init() < 0) {
        dlclose(h);
        return 0;
    }
    dec = d;
    enc = e;
    return 1;
}

int tl_small_seal(const tl_aead *a, const uint8_t nonce[12], const uint8_t *ad, const uint8_t *in, size_t n,
                  uint8_t *out)
{
    if (enc == NULL || a->suite != 1 || n > TL_SMALL)
        return 1;
    return enc(out, out + n, NULL, in, n, ad, TL_HEADER_LEN, NULL, nonce, a->key) == 0 ? 0 : -1;
}

int tl_small_open(const tl_aead *a, const uint8_t nonce[12], const uint8_t *ad, const uint8_t *in, size_t m,
                  const uint8_t tag[TL_TAG_LEN], uint8_t *out)
{
    if (dec == NULL || a->suite != 1 || m > TL_SMALL)
        return 1;
    return dec(out, NULL, in, m, tag, ad, TL_HEADER_LEN, nonce, a->key) == 0 ? 0 : -1;
}
