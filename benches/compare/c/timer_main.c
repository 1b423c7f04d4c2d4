/* The C peers' timer for benches/compare/run.py: the same protocol as compare-timer (timer.rs).
 *
 * Usage: NAME MODEL_ARG ROWS.f32 N_FEATURES SINGLE_ROWS [--outputs]
 * Linked with one adapter (peer.h). After one untimed batch pass (warm-up) it times one
 * peer_batch over every row, then peer_predict1 on each of the first SINGLE_ROWS rows, one call
 * at a time, and prints "batch_ns=<total> single_ns=<median per call>"; with --outputs, the
 * batch's probabilities follow, one line each, as 8 hex digits of the f32 bits. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "peer.h"

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

volatile float sink;

int main(int argc, char **argv) {
    if (argc != 5 && !(argc == 6 && strcmp(argv[5], "--outputs") == 0)) {
        fprintf(stderr, "usage: %s MODEL_ARG ROWS.f32 N_FEATURES SINGLE_ROWS [--outputs]\n", argv[0]);
        return 1;
    }
    int n_features = atoi(argv[3]);
    int single_rows = atoi(argv[4]);
    FILE *f = fopen(argv[2], "rb");
    if (!f) { perror(argv[2]); return 1; }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    float *rows = malloc(size);
    if (!rows || fread(rows, 1, size, f) != (size_t)size) { fprintf(stderr, "%s: read failed\n", argv[2]); return 1; }
    fclose(f);
    int n_rows = (int)(size / 4 / n_features);
    if (peer_init(argv[1], n_features, n_rows) != 0) { fprintf(stderr, "%s: init failed\n", argv[1]); return 1; }
    float *out = malloc(sizeof(float) * n_rows);

    peer_batch(rows, n_rows, n_features, out);
    int64_t start = now_ns();
    peer_batch(rows, n_rows, n_features, out);
    int64_t batch_ns = now_ns() - start;

    if (single_rows > n_rows) single_rows = n_rows;
    int64_t *times = malloc(sizeof(int64_t) * (single_rows > 0 ? single_rows : 1));
    for (int i = 0; i < single_rows; i++) {
        const float *row = rows + (size_t)i * n_features;
        int64_t t0 = now_ns();
        sink = peer_predict1(row, n_features);
        times[i] = now_ns() - t0;
    }
    qsort(times, single_rows, sizeof(int64_t), cmp_i64);
    printf("batch_ns=%lld single_ns=%lld\n", (long long)batch_ns,
           (long long)(single_rows > 0 ? times[single_rows / 2] : 0));
    if (argc == 6) {
        for (int i = 0; i < n_rows; i++) {
            uint32_t bits;
            memcpy(&bits, &out[i], 4);
            printf("%08x\n", bits);
        }
    }
    return 0;
}
