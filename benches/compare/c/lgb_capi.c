/* LightGBM through its C API (lib_lightgbm.so from the pinned wheel), num_threads=1: batch with
 * LGBM_BoosterPredictForMat, single rows with LGBM_BoosterPredictForMatSingleRowFast. The
 * prototypes are those of LightGBM/c_api.h in LightGBM 4.7.0. Results are f64 probabilities,
 * reported rounded to f32. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "peer.h"

typedef void *BoosterHandle;
typedef void *FastConfigHandle;
int LGBM_BoosterCreateFromModelfile(const char *filename, int *out_num_iterations, BoosterHandle *out);
int LGBM_BoosterPredictForMat(BoosterHandle handle, const void *data, int data_type, int32_t nrow,
                              int32_t ncol, int is_row_major, int predict_type, int start_iteration,
                              int num_iteration, const char *parameter, int64_t *out_len,
                              double *out_result);
int LGBM_BoosterPredictForMatSingleRowFastInit(BoosterHandle handle, const int predict_type,
                                               const int start_iteration, const int num_iteration,
                                               const int data_type, const int32_t ncol,
                                               const char *parameter, FastConfigHandle *out_fastConfig);
int LGBM_BoosterPredictForMatSingleRowFast(FastConfigHandle fastConfig_handle, const void *data,
                                           int64_t *out_len, double *out_result);
const char *LGBM_GetLastError(void);

#define DTYPE_FLOAT32 0
#define PREDICT_NORMAL 0

static BoosterHandle booster;
static FastConfigHandle fast;
static double *scratch;

int peer_init(const char *model_arg, int n_features, int max_rows) {
    int iterations;
    scratch = malloc(sizeof(double) * (size_t)max_rows);
    if (LGBM_BoosterCreateFromModelfile(model_arg, &iterations, &booster) ||
        LGBM_BoosterPredictForMatSingleRowFastInit(booster, PREDICT_NORMAL, 0, -1, DTYPE_FLOAT32,
                                                   n_features, "num_threads=1", &fast)) {
        fprintf(stderr, "lightgbm: %s\n", LGBM_GetLastError());
        return 1;
    }
    return 0;
}

float peer_predict1(const float *row, int n_features) {
    (void)n_features;
    int64_t len;
    double out;
    if (LGBM_BoosterPredictForMatSingleRowFast(fast, row, &len, &out)) return NAN;
    return (float)out;
}

void peer_batch(const float *rows, int n_rows, int n_features, float *out) {
    int64_t len;
    if (LGBM_BoosterPredictForMat(booster, rows, DTYPE_FLOAT32, n_rows, n_features, 1,
                                  PREDICT_NORMAL, 0, -1, "num_threads=1", &len, scratch)) {
        fprintf(stderr, "lightgbm: %s\n", LGBM_GetLastError());
        return;
    }
    for (int i = 0; i < n_rows; i++) out[i] = (float)scratch[i];
}
