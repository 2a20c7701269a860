/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * crypto_cng: the crypto seam (crypto.h) on Windows CNG (bcrypt.dll). One MD5 algorithm
 * provider is opened on first use and kept for the life of the process (opening one is
 * the expensive part); each call hashes with its own short-lived hash object, so calls
 * from several threads are safe.
 */
#include "core/crypto.h"

#include <windows.h>
#include <bcrypt.h>

static INIT_ONCE md5_once = INIT_ONCE_STATIC_INIT;
static BCRYPT_ALG_HANDLE md5_alg;

static BOOL CALLBACK md5_open(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
    (void)once;
    (void)param;
    (void)ctx;
    /* A failure leaves md5_alg NULL; crypto_md5 then reports it on every call. */
    if (!BCRYPT_SUCCESS(BCryptOpenAlgorithmProvider(&md5_alg, BCRYPT_MD5_ALGORITHM, NULL, 0))) {
        md5_alg = NULL;
    }
    return TRUE;
}

int crypto_md5(const void *data, size_t len, uint8_t out[16])
{
    BCRYPT_HASH_HANDLE h = NULL;
    int rc = -1;

    if ((data == NULL && len != 0) || len > 0xffffffffu) {
        return -1;
    }
    if (!InitOnceExecuteOnce(&md5_once, md5_open, NULL, NULL) || md5_alg == NULL) {
        return -1;
    }
    /* No object buffer: CNG allocates the hash object itself (Windows 7 and later). */
    if (!BCRYPT_SUCCESS(BCryptCreateHash(md5_alg, &h, NULL, 0, NULL, 0, 0))) {
        return -1;
    }
    /* BCryptHashData takes a non-const pointer but does not write through it. */
    if (BCRYPT_SUCCESS(BCryptHashData(h, (PUCHAR)(uintptr_t)data, (ULONG)len, 0)) &&
        BCRYPT_SUCCESS(BCryptFinishHash(h, out, 16, 0))) {
        rc = 0;
    }
    BCryptDestroyHash(h);
    return rc;
}
