/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for src/daemon/driftfile: round trip, ntpd's one-number and chrony's
 * two-number forms, rejects (garbage, NaN, inf, hex, beyond 500 ppm, too long, empty),
 * the missing file told apart, and the atomic write: on failure (no directory, the
 * directory a regular file, the target a directory, a write that hits RLIMIT_FSIZE) the
 * old content stays and no temporary file is left. Tests run as root, so failures are
 * made without relying on permissions. Each test works in its own mkdtemp directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/driftfile.h"

struct fixture {
    char dir[64];
    char path[128];
};

/* Removes every entry of dir (one level; tests make no deeper trees but one). */
static void clean_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        if (unlink(p) != 0) {
            clean_dir(p);
            rmdir(p);
        }
    }
    closedir(d);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        return -1;
    }
    snprintf(f->dir, sizeof(f->dir), "/tmp/stratum-drift-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/ntp.drift", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    clean_dir(f->dir);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void put(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

static void get(const char *path, char *buf, size_t cap)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    size_t n = fread(buf, 1, cap - 1, fp);
    buf[n] = '\0';
    fclose(fp);
}

/* Entries in dir other than . and .. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            n++;
        }
    }
    closedir(d);
    return n;
}

static void round_trip(void **state)
{
    struct fixture *f = *state;
    char err[256] = "";
    char text[128];
    double freq = 0, skew = 0;
    static const double values[] = {0.0, -12.345678, 499.999999, -500.0, 3e-6};

    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        assert_int_equal(driftfile_write(f->path, values[i], NAN, err, sizeof(err)), 0);
        assert_int_equal(driftfile_read(f->path, &freq, &skew, err, sizeof(err)), DRIFTFILE_OK);
        assert_true(fabs(freq - values[i]) <= 5e-7);
        assert_true(isnan(skew));
    }
    get(f->path, text, sizeof(text));
    assert_string_equal(text, "0.000003\n");

    /* With a skew: chrony's two numbers. */
    assert_int_equal(driftfile_write(f->path, -7.25, 0.125, err, sizeof(err)), 0);
    get(f->path, text, sizeof(text));
    assert_string_equal(text, "-7.250000 0.125000\n");
    assert_int_equal(driftfile_read(f->path, &freq, &skew, err, sizeof(err)), DRIFTFILE_OK);
    assert_true(freq == -7.25);
    assert_true(skew == 0.125);
    /* The skew output is optional. */
    assert_int_equal(driftfile_read(f->path, &freq, NULL, err, sizeof(err)), DRIFTFILE_OK);

    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(count_entries(f->dir), 1); /* no temporary left behind */
}

static void reads_foreign_formats(void **state)
{
    struct fixture *f = *state;
    char err[256] = "";
    double freq = 99, skew = 99;
    static const struct {
        const char *text;
        double freq;
        double skew; /* NAN: one number */
    } cases[] = {
        {"-12.345\n", -12.345, NAN},                                          /* ntpd */
        {"12.3\n", 12.3, NAN},                                                /* NTPsec */
        {"           -8.170486             0.014382\n", -8.170486, 0.014382}, /* chrony */
        {"  1e1\t 2E-1  \n\n", 10.0, 0.2},
        {"+4", 4.0, NAN}, /* no newline */
        {"500", 500.0, NAN},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        put(f->path, cases[i].text);
        assert_int_equal(driftfile_read(f->path, &freq, &skew, err, sizeof(err)), DRIFTFILE_OK);
        assert_true(freq == cases[i].freq);
        if (isnan(cases[i].skew)) {
            assert_true(isnan(skew));
        } else {
            assert_true(skew == cases[i].skew);
        }
    }
}

static void rejects_bad_content(void **state)
{
    struct fixture *f = *state;
    char err[256];
    static const char *const bad[] = {
        "",        "\n  \n",      "abc\n",     "12.5ppm\n", "nan\n",  "NaN\n",
        "inf\n",   "-infinity\n", "0x1p3\n",   "500.001\n", "-1e3\n", "1e999\n",
        "1 2 3\n", "1.5 -0.1\n",  "1.5 nan\n", "1..2\n",    "--1\n",  "1,5\n",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        double freq = 42.0, skew = 43.0;
        put(f->path, bad[i]);
        err[0] = '\0';
        if (driftfile_read(f->path, &freq, &skew, err, sizeof(err)) != DRIFTFILE_ERROR) {
            fail_msg("accepted %s", bad[i]);
        }
        /* Outputs untouched, and the message names the file. */
        assert_true(freq == 42.0 && skew == 43.0);
        assert_non_null(strstr(err, f->path));
    }
    /* Longer than any drift file. */
    char big[600];
    memset(big, ' ', sizeof(big) - 1);
    big[0] = '1';
    big[sizeof(big) - 1] = '\0';
    put(f->path, big);
    double freq = 0;
    assert_int_equal(driftfile_read(f->path, &freq, NULL, err, sizeof(err)), DRIFTFILE_ERROR);
    assert_non_null(strstr(err, "longer"));
    /* No error buffer at all is fine. */
    assert_int_equal(driftfile_read(f->path, &freq, NULL, NULL, 0), DRIFTFILE_ERROR);
}

static void missing_is_distinguished(void **state)
{
    struct fixture *f = *state;
    char err[256];
    double freq = 1.0;

    assert_int_equal(driftfile_read(f->path, &freq, NULL, err, sizeof(err)), DRIFTFILE_MISSING);
    assert_true(freq == 1.0);
    /* A directory where the file should be is an error, not "missing". */
    assert_int_equal(mkdir(f->path, 0755), 0);
    assert_int_equal(driftfile_read(f->path, &freq, NULL, err, sizeof(err)), DRIFTFILE_ERROR);
    assert_int_equal(rmdir(f->path), 0);
}

static void write_refuses_bad_values(void **state)
{
    struct fixture *f = *state;
    char err[256], text[64];

    put(f->path, "1.500\n");
    assert_int_equal(driftfile_write(f->path, NAN, NAN, err, sizeof(err)), -1);
    assert_int_equal(driftfile_write(f->path, INFINITY, NAN, err, sizeof(err)), -1);
    assert_int_equal(driftfile_write(f->path, 500.5, NAN, err, sizeof(err)), -1);
    assert_int_equal(driftfile_write(f->path, -600, 0.1, err, sizeof(err)), -1);
    get(f->path, text, sizeof(text));
    assert_string_equal(text, "1.500\n");
    assert_int_equal(count_entries(f->dir), 1);
    /* A negative or absurd skew is left out: one number. */
    assert_int_equal(driftfile_write(f->path, 2.0, -1.0, err, sizeof(err)), 0);
    get(f->path, text, sizeof(text));
    assert_string_equal(text, "2.000000\n");
    assert_int_equal(driftfile_write(f->path, 2.5, 1e300, err, sizeof(err)), 0);
    get(f->path, text, sizeof(text));
    assert_string_equal(text, "2.500000\n");
}

static void write_fails_without_directory(void **state)
{
    struct fixture *f = *state;
    char err[256], path[256];

    /* The directory does not exist. */
    snprintf(path, sizeof(path), "%s/nodir/ntp.drift", f->dir);
    err[0] = '\0';
    assert_int_equal(driftfile_write(path, 1.0, NAN, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "No such file or directory"));
    /* The "directory" is a regular file. */
    char file[200];
    snprintf(file, sizeof(file), "%s/plain", f->dir);
    put(file, "x\n");
    snprintf(path, sizeof(path), "%s/ntp.drift", file);
    err[0] = '\0';
    assert_int_equal(driftfile_write(path, 1.0, NAN, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "Not a directory"));
    assert_int_equal(count_entries(f->dir), 1);
}

static void failed_rename_keeps_old_and_removes_temp(void **state)
{
    struct fixture *f = *state;
    char err[256], inner[200], text[64];

    /* The target is a non-empty directory: rename(2) of a file over it fails. */
    assert_int_equal(mkdir(f->path, 0755), 0);
    snprintf(inner, sizeof(inner), "%s/old", f->path);
    put(inner, "old content\n");
    err[0] = '\0';
    assert_int_equal(driftfile_write(f->path, 3.0, NAN, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "rename"));
    assert_non_null(strstr(err, "old file kept"));
    get(inner, text, sizeof(text));
    assert_string_equal(text, "old content\n");
    assert_int_equal(count_entries(f->dir), 1);
    assert_int_equal(count_entries(f->path), 1);
}

static void failed_write_keeps_old_and_removes_temp(void **state)
{
    struct fixture *f = *state;
    char err[256], text[64];
    struct rlimit saved, small;

    put(f->path, "-3.210\n");
    /* A file size limit of 4 octets makes the write of "123.456000\n" fail (EFBIG) as a
     * full disk would, whatever our privileges. */
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    small = saved;
    small.rlim_cur = 4;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    int rc = driftfile_write(f->path, 123.456, NAN, err, sizeof(err));
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, old_handler);

    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "write"));
    get(f->path, text, sizeof(text));
    assert_string_equal(text, "-3.210\n");
    assert_int_equal(count_entries(f->dir), 1);
    double freq = 0;
    assert_int_equal(driftfile_read(f->path, &freq, NULL, err, sizeof(err)), DRIFTFILE_OK);
    assert_true(freq == -3.21);
}

static void relative_path_in_cwd(void **state)
{
    struct fixture *f = *state;
    char err[256], cwd[512];
    double freq = 0;

    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(f->dir), 0);
    int w = driftfile_write("rel.drift", 7.5, NAN, err, sizeof(err));
    enum driftfile_status r = driftfile_read("rel.drift", &freq, NULL, err, sizeof(err));
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(w, 0);
    assert_int_equal(r, DRIFTFILE_OK);
    assert_true(freq == 7.5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(reads_foreign_formats, setup, teardown),
        cmocka_unit_test_setup_teardown(rejects_bad_content, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_is_distinguished, setup, teardown),
        cmocka_unit_test_setup_teardown(write_refuses_bad_values, setup, teardown),
        cmocka_unit_test_setup_teardown(write_fails_without_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_rename_keeps_old_and_removes_temp, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_write_keeps_old_and_removes_temp, setup, teardown),
        cmocka_unit_test_setup_teardown(relative_path_in_cwd, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
