/* SPDX-License-Identifier: BSD-2-Clause */
/* stub: to be written */
extern int stratum_stub_ratelimit;
