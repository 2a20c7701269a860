/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * crypto_openssl: the crypto seam (crypto.h) on OpenSSL 3's EVP interface. Owns no state
 * and keeps no contexts between calls; MAC keys and their verification live elsewhere.
 */
#include "core/crypto.h"

#include <openssl/evp.h>

int crypto_md5(const void *data, size_t len, uint8_t out[16])
{
    unsigned int out_len = 0;

    if (data == NULL && len != 0) {
        return -1;
    }
    /* EVP_Digest fails (returns 0) where MD5 is unavailable, e.g. under a FIPS-only
     * provider configuration; the caller then degrades. */
    if (EVP_Digest(data, len, out, &out_len, EVP_md5(), NULL) != 1 || out_len != 16) {
        return -1;
    }
    return 0;
}
