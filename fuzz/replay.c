/*
 * replay.c - runs fuzz inputs through LLVMFuzzerTestOneInput without libFuzzer, so the
 * seed corpus (and any saved crash) is a regression test with any compiler.
 *
 * Usage: fuzz_replay [-t SECONDS] [-f] PATH...   (each PATH a file or a directory of
 * files, read in name order so runs are reproducible). Exits 0 after the last input; a
 * failed check aborts inside the target and names the input being replayed. With -t,
 * an input that runs longer than SECONDS (a hang) ends the run with status 124. With
 * -f, each input runs in a child process and every failing input is listed (the exit
 * status is then 1 if any failed): the mode for fuzz/regressions.
 *
 * SPDX-License-Identifier: MIT
 */
#define _POSIX_C_SOURCE 200809L /* opendir, stat */
#include <dirent.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzz_common.h"

void fz_print_stats(FILE *f);

static long replayed, failed;
static unsigned per_input_seconds;
static bool isolate;

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "\nfuzz_replay: input timed out (a hang in tconv?)\n";
    if (write(2, msg, sizeof msg - 1) < 0) { /* nothing more to do */
    }
    _exit(124);
}

static void replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fuzz_replay: cannot open %s\n", path);
        exit(2);
    }
    size_t cap = 4096, len = 0;
    unsigned char *buf = malloc(cap);
    for (size_t got; (got = fread(buf + len, 1, cap - len, f)) > 0;) {
        len += got;
        if (len == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    fprintf(stderr, "fuzz_replay: %s (%zu bytes)\n", path, len);
    replayed++;
    if (isolate) {
        fflush(NULL);
        const pid_t pid = fork();
        if (pid == 0) {
            alarm(per_input_seconds);
            LLVMFuzzerTestOneInput(buf, len);
            _exit(0);
        }
        int st = 0;
        if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            failed++;
            if (WIFSIGNALED(st))
                fprintf(stderr, "fuzz_replay: FAILED %s (signal %d)\n", path, WTERMSIG(st));
            else
                fprintf(stderr, "fuzz_replay: FAILED %s (exit %d)\n", path, WEXITSTATUS(st));
        }
        free(buf);
        return;
    }
    alarm(per_input_seconds);
    LLVMFuzzerTestOneInput(buf, len);
    alarm(0);
    free(buf);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void replay_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "fuzz_replay: no such file or directory: %s\n", path);
        exit(2);
    }
    if (!S_ISDIR(st.st_mode)) {
        replay_file(path);
        return;
    }
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "fuzz_replay: cannot read directory %s\n", path);
        exit(2);
    }
    size_t n = 0, cap = 64;
    char **names = malloc(cap * sizeof *names);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap)
            names = realloc(names, (cap *= 2) * sizeof *names);
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        names[n] = malloc(len);
        snprintf(names[n], len, "%s/%s", path, e->d_name);
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
            replay_file(names[i]);
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv)
{
    int first = 1;
    for (; first < argc && argv[first][0] == '-'; first++) {
        if (strcmp(argv[first], "-t") == 0 && first + 1 < argc) {
            per_input_seconds = (unsigned)atoi(argv[++first]);
            signal(SIGALRM, on_alarm);
        } else if (strcmp(argv[first], "-f") == 0) {
            isolate = true;
        } else {
            break;
        }
    }
    if (first >= argc) {
        fprintf(stderr, "usage: %s [-t SECONDS] [-f] FILE_OR_DIR...\n", argv[0]);
        return 2;
    }
    for (int i = first; i < argc; i++)
        replay_path(argv[i]);
    if (replayed == 0) {
        fprintf(stderr, "fuzz_replay: no input found\n");
        return 1;
    }
    if (isolate) {
        printf("fuzz_replay: %ld of %ld inputs failed\n", failed, replayed);
        return failed ? 1 : 0;
    }
    fz_print_stats(stdout);
    printf("fuzz_replay: %ld inputs passed\n", replayed);
    return 0;
}
