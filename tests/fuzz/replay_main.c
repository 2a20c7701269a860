/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * replay_main: a plain main() that feeds corpus files to a fuzz target's
 * LLVMFuzzerTestOneInput, so every normal build replays the corpora as tests without
 * libFuzzer. Arguments are directories (every regular file in them, in name order, not
 * recursive) or single files. A missing or empty directory fails, so a lost corpus is seen.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Corpus inputs are small; anything larger is a mistake in the corpus, not an input. */
#define REPLAY_MAX_FILE (1024 * 1024)

/* Reads the whole file into an exactly sized heap buffer (so the sanitizers see any read
 * past its end) and runs the target on it. Returns 0, or -1 after printing why. */
static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || st.st_size < 0 || st.st_size > REPLAY_MAX_FILE) {
        fprintf(stderr, "replay: %s: unreadable or larger than %d octets\n", path, REPLAY_MAX_FILE);
        fclose(f);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    /* malloc(0) may return NULL; an empty input still gets a valid pointer. */
    uint8_t *data = malloc(size > 0 ? size : 1);
    if (data == NULL) {
        fprintf(stderr, "replay: %s: out of memory\n", path);
        fclose(f);
        return -1;
    }
    if (size > 0 && fread(data, 1, size, f) != size) {
        fprintf(stderr, "replay: %s: short read\n", path);
        free(data);
        fclose(f);
        return -1;
    }
    fclose(f);
    (void)LLVMFuzzerTestOneInput(data, size);
    free(data);
    return 0;
}

/* Replays every regular file in dir. Returns the count, or -1 on an error. */
static long replay_dir(const char *dir)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    long count = 0;
    int failed = 0;
    for (int i = 0; i < n; i++) {
        if (!failed && names[i]->d_name[0] != '.') {
            size_t len = strlen(dir) + 1 + strlen(names[i]->d_name) + 1;
            char *path = malloc(len);
            struct stat st;
            if (path == NULL) {
                failed = 1;
            } else {
                snprintf(path, len, "%s/%s", dir, names[i]->d_name);
                if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                    if (replay_file(path) != 0) {
                        failed = 1;
                    } else {
                        count++;
                    }
                }
                free(path);
            }
        }
        free(names[i]);
    }
    free(names);
    return failed ? -1 : count;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR-or-FILE...\n", argv[0]);
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        if (S_ISDIR(st.st_mode)) {
            long n = replay_dir(argv[i]);
            if (n < 0) {
                return 1;
            }
            printf("replayed %ld inputs from %s\n", n, argv[i]);
            if (n == 0) {
                fprintf(stderr, "replay: %s: no inputs (corpus lost?)\n", argv[i]);
                return 1;
            }
        } else {
            if (replay_file(argv[i]) != 0) {
                return 1;
            }
            printf("replayed 1 inputs from %s\n", argv[i]);
        }
    }
    return 0;
}
