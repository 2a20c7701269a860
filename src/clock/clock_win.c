/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * clock_win: the machine's real clock on Windows (the `system` backend).
 *
 * Reading: GetSystemTimePreciseAsFileTime (UTC, 100 ns ticks since 1601).
 *
 * Step: with SeSystemtimePrivilege enabled on the process token, read the precise time,
 * add the offset, wait (< 1 ms) until the target is a whole millisecond, and SetSystemTime
 * it (SYSTEMTIME has millisecond resolution; the wait keeps the step exact to the
 * microsecond instead of truncating up to 1 ms).
 *
 * Slew: Windows has no one-shot offset like Linux's ADJ_OFFSET_SINGLESHOT, only a rate:
 * Get/SetSystemTimeAdjustmentPrecise (Windows 10 and later, resolved from kernel32 at run
 * time) or else the older Get/SetSystemTimeAdjustment. Both describe the clock by an
 * adjustment A added to the time of day per increment I of elapsed time, the clock running
 * at the rate A / I (nominal when A == I, or when "adjustment disabled" leaves the system's
 * own mechanism in charge); both values are in the same units, 100 ns per clock update in
 * the old API and the finer "precise" units in the new, so only their ratio matters here.
 * The slew keeps the current rate B (A, or I when disabled, so a frequency correction that
 * W32Time applies stays in place) and sets B + d or B - d, d = floor(I * 500e-6): at most
 * 500 ppm, as on Linux. It then STAYS until |offset| / (d / I) seconds of monotonic time
 * have passed (progress on stderr when that is a console), and restores the previous
 * adjustment and its disabled flag, so the system's automatic adjustment is back as it
 * was: on completion, on error, and on Ctrl-C / console close (SetConsoleCtrlHandler).
 * If another program (W32Time) replaces the adjustment meanwhile, the slew stops and
 * leaves that program's setting alone.
 */
#include "clock_win.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <windows.h>

#include "clock_impl.h"

/* ---- the real Windows calls ----------------------------------------------------------- */

typedef BOOL(WINAPI *get_adj_precise_fn)(PDWORD64, PDWORD64, PBOOL);
typedef BOOL(WINAPI *set_adj_precise_fn)(DWORD64, BOOL);

static HANDLE stop_event;       /* set by Ctrl-C during a slew (manual reset) */

static uint64_t real_now_ft(void)
{
    FILETIME ft;
    GetSystemTimePreciseAsFileTime(&ft);
    return ((uint64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime;
}

static void win_error_text(DWORD code, char *buf, size_t size)
{
    DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL,
                             code, MAKELANGID(LANG_NEUTRAL, SUBLANG_DEFAULT), buf,
                             (DWORD)size, NULL);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == '.' ||
                     buf[n - 1] == ' ')) {
        buf[--n] = '\0';
    }
    if (n == 0) {
        snprintf(buf, size, "error %lu", (unsigned long)code);
    }
}

static const char not_held[] =
    "this process does not hold SeSystemtimePrivilege (run stratum from an elevated "
    "administrator prompt)";

static int privilege_set(bool on, char *err, size_t errlen)
{
    HANDLE tok;
    TOKEN_PRIVILEGES tp;
    char text[160];

    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY, &tok)) {
        win_error_text(GetLastError(), text, sizeof(text));
        snprintf(err, errlen, "OpenProcessToken: %s", text);
        return CLK_FAILED;
    }
    memset(&tp, 0, sizeof(tp));
    tp.PrivilegeCount = 1;
    tp.Privileges[0].Attributes = on ? SE_PRIVILEGE_ENABLED : 0;
    if (!LookupPrivilegeValueA(NULL, "SeSystemtimePrivilege", &tp.Privileges[0].Luid)) {
        win_error_text(GetLastError(), text, sizeof(text));
        snprintf(err, errlen, "LookupPrivilegeValue(SeSystemtimePrivilege): %s", text);
        CloseHandle(tok);
        return CLK_FAILED;
    }
    BOOL ok = AdjustTokenPrivileges(tok, FALSE, &tp, 0, NULL, NULL);
    /* Success with ERROR_NOT_ALL_ASSIGNED: the token does not hold the privilege at all
     * (not an administrator, or a prompt that is not elevated). */
    DWORD e = GetLastError();
    CloseHandle(tok);
    if (!ok) {
        win_error_text(e, text, sizeof(text));
        snprintf(err, errlen, "AdjustTokenPrivileges: %s", text);
        return CLK_FAILED;
    }
    if (on && e == ERROR_NOT_ALL_ASSIGNED) {
        snprintf(err, errlen, "%s", not_held);
        return CLK_NOT_PERMITTED;
    }
    return 0;
}

static int real_enable_privilege(char *err, size_t errlen)
{
    return privilege_set(true, err, errlen);
}

static void real_disable_privilege(void)
{
    char err[200];
    (void)privilege_set(false, err, sizeof(err));
}

static bool real_set_time_ft(uint64_t ft)
{
    FILETIME f;
    SYSTEMTIME st;
    f.dwLowDateTime = (DWORD)ft;
    f.dwHighDateTime = (DWORD)(ft >> 32);
    return FileTimeToSystemTime(&f, &st) && SetSystemTime(&st);
}

/* kernel32's precise adjustment functions, or NULL before Windows 10. The cast through
 * void (*)(void) is the documented way to convert GetProcAddress's FARPROC. */
static get_adj_precise_fn get_precise(void)
{
    HMODULE k = GetModuleHandleA("kernel32.dll");
    return k != NULL ? (get_adj_precise_fn)(void (*)(void))GetProcAddress(
                           k, "GetSystemTimeAdjustmentPrecise")
                     : NULL;
}

static set_adj_precise_fn set_precise(void)
{
    HMODULE k = GetModuleHandleA("kernel32.dll");
    return k != NULL ? (set_adj_precise_fn)(void (*)(void))GetProcAddress(
                           k, "SetSystemTimeAdjustmentPrecise")
                     : NULL;
}

static bool real_get_adjust(uint64_t *adj, uint64_t *incr, bool *disabled, bool *precise,
                            uint64_t *max_adj)
{
    get_adj_precise_fn gp = get_precise();
    BOOL dis = FALSE;
    if (gp != NULL && set_precise() != NULL) {
        DWORD64 a = 0, i = 0;
        if (!gp(&a, &i, &dis)) {
            return false;
        }
        *adj = a;
        *incr = i;
        *disabled = dis != FALSE;
        *precise = true;
        *max_adj = UINT64_MAX;
        return true;
    }
    DWORD a = 0, i = 0;
    if (!GetSystemTimeAdjustment(&a, &i, &dis)) {
        return false;
    }
    *adj = a;
    *incr = i;
    *disabled = dis != FALSE;
    *precise = false;
    *max_adj = UINT32_MAX;
    return true;
}

static bool real_set_adjust(uint64_t adj, bool disabled, bool precise)
{
    if (precise) {
        set_adj_precise_fn sp = set_precise();
        if (sp == NULL) {
            SetLastError(ERROR_PROC_NOT_FOUND);
            return false;
        }
        return sp((DWORD64)adj, disabled ? TRUE : FALSE) != FALSE;
    }
    if (adj > UINT32_MAX) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return false;
    }
    return SetSystemTimeAdjustment((DWORD)adj, disabled ? TRUE : FALSE) != FALSE;
}

static int64_t real_mono_ns(void)
{
    LARGE_INTEGER f, c;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&c);
    int64_t sec = c.QuadPart / f.QuadPart;
    int64_t rem = c.QuadPart % f.QuadPart;
    return sec * 1000000000 + rem * 1000000000 / f.QuadPart;
}

static void real_wait_ms(uint32_t ms)
{
    if (stop_event != NULL) {
        (void)WaitForSingleObject(stop_event, ms);
    } else {
        Sleep(ms);
    }
}

static bool real_progress(void)
{
    DWORD mode;
    return GetConsoleMode(GetStdHandle(STD_ERROR_HANDLE), &mode) != 0;
}

static const struct clk_win_sys real_sys = {
    .now_ft = real_now_ft,
    .enable_privilege = real_enable_privilege,
    .disable_privilege = real_disable_privilege,
    .set_time_ft = real_set_time_ft,
    .get_adjust = real_get_adjust,
    .set_adjust = real_set_adjust,
    .mono_ns = real_mono_ns,
    .wait_ms = real_wait_ms,
    .progress = real_progress,
};

static const struct clk_win_sys *sys = &real_sys;

void clk_win_set_sys(const struct clk_win_sys *s)
{
    sys = s != NULL ? s : &real_sys;
}

/* ---- conversions and planning --------------------------------------------------------- */

void clk_win_ft_to_timespec(uint64_t ft, struct timespec *out)
{
    int64_t u = ft >= CLK_WIN_UNIX_EPOCH_FT ? (int64_t)(ft - CLK_WIN_UNIX_EPOCH_FT)
                                            : -(int64_t)(CLK_WIN_UNIX_EPOCH_FT - ft);
    int64_t sec = u / 10000000;
    int64_t rem = u % 10000000;
    if (rem < 0) {
        rem += 10000000;
        sec -= 1;
    }
    out->tv_sec = (time_t)sec;
    out->tv_nsec = (long)(rem * 100);
}

int clk_win_plan_slew(double offset, uint64_t adj, uint64_t incr, bool disabled,
                      uint64_t max_adj, struct clk_win_slew_plan *out)
{
    if (incr == 0 || !isfinite(offset)) {
        return -1;
    }
    uint64_t base = disabled ? incr : adj;
    /* Rounded down, so the rate never exceeds the maximum. */
    uint64_t d = (uint64_t)floor((double)incr * (CLK_WIN_SLEW_MAX_PPM * 1e-6));
    if (d == 0 || base == 0 || base > max_adj) {
        return -1;
    }
    if (offset >= 0) {
        if (base > max_adj - d) {
            return -1;
        }
        out->new_adj = base + d;
    } else {
        if (base <= d) {
            return -1;
        }
        out->new_adj = base - d;
    }
    out->base_adj = base;
    out->rate = (offset >= 0 ? 1.0 : -1.0) * (double)d / (double)incr;
    out->duration_ns = (int64_t)llround(fabs(offset) / fabs(out->rate) * 1e9);
    return 0;
}

/* ---- the backend ---------------------------------------------------------------------- */

static void win_now(struct clk *c, struct timespec *out)
{
    (void)c;
    clk_win_ft_to_timespec(sys->now_ft(), out);
}

static int win_step(struct clk *c, double offset, char *err, size_t errlen)
{
    char text[160];
    (void)c;
    /* FILETIME reaches year 30828; a step beyond 1e9 s (31 years) is a bug somewhere. */
    if (!isfinite(offset) || fabs(offset) > 1e9) {
        snprintf(err, errlen, "refusing to step by %g s", offset);
        return CLK_FAILED;
    }
    int rc = sys->enable_privilege(err, errlen);
    if (rc != 0) {
        return rc;
    }
    int64_t ticks = (int64_t)llround(offset * 1e7);
    uint64_t now = sys->now_ft();
    int64_t t0 = sys->mono_ns();
    if ((ticks < 0 && (uint64_t)(-ticks) > now - CLK_WIN_UNIX_EPOCH_FT)) {
        snprintf(err, errlen, "step by %+.6f s: the result would be before 1970", offset);
        sys->disable_privilege();
        return CLK_FAILED;
    }
    uint64_t target = now + (uint64_t)ticks;
    /* SYSTEMTIME holds milliseconds: wait (at most 1 ms) until the target time is a whole
     * millisecond, then set exactly that. */
    uint64_t wait = (10000 - target % 10000) % 10000;
    while (sys->mono_ns() - t0 < (int64_t)wait * 100) {
        YieldProcessor();
    }
    target += wait;
    bool ok = sys->set_time_ft(target);
    DWORD e = GetLastError();
    sys->disable_privilege();
    if (!ok) {
        win_error_text(e, text, sizeof(text));
        snprintf(err, errlen, "step by %+.6f s: SetSystemTime: %s", offset, text);
        if (e == ERROR_PRIVILEGE_NOT_HELD || e == ERROR_ACCESS_DENIED) {
            snprintf(err, errlen, "step by %+.6f s: %s", offset, not_held);
            return CLK_NOT_PERMITTED;
        }
        return CLK_FAILED;
    }
    return 0;
}

/* One slew at a time per process; the console control handler reaches it from its own
 * thread. */
static struct {
    volatile LONG owed;         /* 1 while the previous adjustment must be restored */
    volatile LONG interrupted;
    uint64_t prev_adj;
    bool prev_disabled;
    bool precise;
} slew;

/* Restores the adjustment found before the slew, once (whoever comes first: the slew's
 * end or the control handler). Returns false when the restore call failed. */
static bool restore_adjustment(void)
{
    if (InterlockedExchange(&slew.owed, 0) == 1) {
        return sys->set_adjust(slew.prev_adj, slew.prev_disabled, slew.precise);
    }
    return true;
}

void clk_win_interrupt(void)
{
    InterlockedExchange(&slew.interrupted, 1);
    (void)restore_adjustment();
    if (stop_event != NULL) {
        SetEvent(stop_event);
    }
}

static BOOL WINAPI ctrl_handler(DWORD type)
{
    /* Ctrl-C / Ctrl-Break: the slew returns and the tool exits normally. Close, logoff,
     * shutdown: the system ends the process after this returns, so restore here. */
    (void)type;
    clk_win_interrupt();
    return TRUE;
}

/* Keeps the slew's adjustment set for plan->duration_ns of monotonic time, or until Ctrl-C
 * or another program replacing it (*foreign). Returns the monotonic time it was set. */
static int64_t slew_hold(const struct clk_win_slew_plan *plan, double offset, bool *foreign)
{
    int64_t t0 = sys->mono_ns();
    bool progress = sys->progress();
    int64_t last_shown = -1;
    uint64_t d = plan->new_adj > plan->base_adj ? plan->new_adj - plan->base_adj
                                                : plan->base_adj - plan->new_adj;
    *foreign = false;
    for (;;) {
        int64_t el = sys->mono_ns() - t0;
        if (el >= plan->duration_ns || slew.interrupted) {
            break;
        }
        /* W32Time (or anything else) replacing our setting owns the clock now: tell apart
         * by more than half our change, so a rounding API cannot trigger it. */
        uint64_t a, i, m;
        bool dis, p;
        if (sys->get_adjust(&a, &i, &dis, &p, &m) &&
            (dis || (a > plan->new_adj ? a - plan->new_adj : plan->new_adj - a) > d / 2)) {
            InterlockedExchange(&slew.owed, 0);
            *foreign = true;
            break;
        }
        if (progress && el / 1000000000 != last_shown) {
            last_shown = el / 1000000000;
            fprintf(stderr, "\rCLOCK: slewing %+.6f s: %+.6f s applied, %.0f s left   ",
                    offset, plan->rate * (double)el * 1e-9,
                    (double)(plan->duration_ns - el) * 1e-9);
            fflush(stderr);
        }
        int64_t left_ms = (plan->duration_ns - el + 999999) / 1000000;
        sys->wait_ms((uint32_t)(left_ms > 1000 ? 1000 : left_ms));
    }
    if (progress) {
        fputc('\n', stderr);
    }
    return t0;
}

static int win_slew_once(struct clk *c, double offset, char *err, size_t errlen)
{
    char text[160];
    uint64_t adj, incr, max_adj;
    bool disabled, precise, foreign;
    struct clk_win_slew_plan plan;
    (void)c;

    /* The same bound as on Linux: at 500 ppm 2000 s take 46 days. */
    if (!isfinite(offset) || fabs(offset) > 2000.0) {
        snprintf(err, errlen, "refusing to slew by %g s (at 500 ppm that takes %.0f h)",
                 offset, fabs(offset) / 500e-6 / 3600.0);
        return CLK_FAILED;
    }
    if (offset == 0.0) {
        return 0;
    }
    int rc = sys->enable_privilege(err, errlen);
    if (rc != 0) {
        return rc;
    }
    if (!sys->get_adjust(&adj, &incr, &disabled, &precise, &max_adj)) {
        win_error_text(GetLastError(), text, sizeof(text));
        snprintf(err, errlen, "slew by %+.6f s: GetSystemTimeAdjustment: %s", offset, text);
        sys->disable_privilege();
        return CLK_FAILED;
    }
    if (clk_win_plan_slew(offset, adj, incr, disabled, max_adj, &plan) != 0) {
        snprintf(err, errlen, "slew by %+.6f s: cannot express a 500 ppm rate with the "
                 "clock adjustment %llu per %llu", offset, (unsigned long long)adj,
                 (unsigned long long)incr);
        sys->disable_privilege();
        return CLK_FAILED;
    }

    slew.prev_adj = adj;
    slew.prev_disabled = disabled;
    slew.precise = precise;
    InterlockedExchange(&slew.interrupted, 0);
    /* Created once and never closed: the handler may still be running on its thread
     * when the slew ends. */
    if (stop_event == NULL) {
        stop_event = CreateEventA(NULL, TRUE, FALSE, NULL);
    } else {
        ResetEvent(stop_event);
    }
    bool handler = SetConsoleCtrlHandler(ctrl_handler, TRUE) != FALSE;

    InterlockedExchange(&slew.owed, 1);
    if (!sys->set_adjust(plan.new_adj, false, precise)) {
        DWORD e = GetLastError();
        InterlockedExchange(&slew.owed, 0);
        if (e == ERROR_PRIVILEGE_NOT_HELD) {
            snprintf(err, errlen, "slew by %+.6f s: %s", offset, not_held);
            rc = CLK_NOT_PERMITTED;
        } else {
            win_error_text(e, text, sizeof(text));
            snprintf(err, errlen, "slew by %+.6f s: SetSystemTimeAdjustment%s: %s", offset,
                     precise ? "Precise" : "", text);
            rc = CLK_FAILED;
        }
    } else {
        int64_t t0 = slew_hold(&plan, offset, &foreign);
        bool restored = restore_adjustment();
        DWORD e = GetLastError();
        double applied = plan.rate * (double)(sys->mono_ns() - t0) * 1e-9;
        if (fabs(applied) > fabs(offset) && !slew.interrupted && !foreign) {
            applied = offset;   /* the last wait overshot by less than a timer tick */
        }
        if (foreign) {
            snprintf(err, errlen, "slew by %+.6f s stopped after %+.6f s: another program "
                     "(W32Time?) changed the clock adjustment; stop W32Time or set it to "
                     "NoSync first", offset, applied);
            rc = CLK_FAILED;
        } else if (!restored) {
            win_error_text(e, text, sizeof(text));
            snprintf(err, errlen, "slew by %+.6f s: restoring the previous clock adjustment "
                     "(%llu per %llu%s) failed: %s", offset, (unsigned long long)adj,
                     (unsigned long long)incr, disabled ? ", automatic" : "", text);
            rc = CLK_FAILED;
        } else if (slew.interrupted) {
            snprintf(err, errlen, "slew by %+.6f s interrupted after %+.6f s; the previous "
                     "clock adjustment is restored", offset, applied);
            rc = CLK_FAILED;
        }
    }
    if (handler) {
        SetConsoleCtrlHandler(ctrl_handler, FALSE);
    }
    sys->disable_privilege();
    return rc;
}

/* The frequency correction: the adjustment per clock interrupt is the increment scaled by
 * (1 + ppm), with the system's own adjustment switched off; it stays until changed. */
static int win_set_freq(struct clk *c, double freq_ppm, char *err, size_t errlen)
{
    char text[160];
    uint64_t adj, incr, max_adj;
    bool disabled, precise;
    (void)c;

    int rc = sys->enable_privilege(err, errlen);
    if (rc != 0) {
        return rc;
    }
    if (!sys->get_adjust(&adj, &incr, &disabled, &precise, &max_adj)) {
        win_error_text(GetLastError(), text, sizeof(text));
        snprintf(err, errlen, "set frequency %+.3f ppm: GetSystemTimeAdjustment: %s", freq_ppm,
                 text);
        sys->disable_privilege();
        return CLK_FAILED;
    }
    double want = (double)incr * (1.0 + freq_ppm * 1e-6);
    if (incr == 0 || !(want >= 1.0) || want > (double)max_adj) {
        snprintf(err, errlen, "set frequency %+.3f ppm: cannot express it with the clock "
                 "increment %llu", freq_ppm, (unsigned long long)incr);
        sys->disable_privilege();
        return CLK_FAILED;
    }
    bool ok = sys->set_adjust((uint64_t)llround(want), false, precise);
    if (!ok) {
        win_error_text(GetLastError(), text, sizeof(text));
        snprintf(err, errlen, "set frequency %+.3f ppm: SetSystemTimeAdjustment: %s",
                 freq_ppm, text);
    }
    sys->disable_privilege();
    return ok ? 0 : CLK_FAILED;
}

const struct clk_ops clk_ops_system = {
    .name = "system",
    .now = win_now,
    /* Windows gives the tool no kernel receive timestamps (plat_win.c). */
    .from_system = clk_identity,
    .step = win_step,
    .slew_once = win_slew_once,
    .set_freq = win_set_freq,
};
