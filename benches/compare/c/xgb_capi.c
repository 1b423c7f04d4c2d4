/* XGBoost through its C API (libxgboost.so from the pinned wheel): XGBoosterPredictFromDense,
 * nthread=1. The prototypes are declared here (the wheel ships no header); they are those of
 * xgboost/c_api.h in XGBoost 3.2.0. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "peer.h"

typedef uint64_t bst_ulong;
typedef void *BoosterHandle;
typedef void *DMatrixHandle;
int XGBoosterCreate(const DMatrixHandle dmats[], bst_ulong len, BoosterHandle *out);
int XGBoosterLoadModel(BoosterHandle handle, const char *fname);
int XGBoosterSetParam(BoosterHandle handle, const char *name, const char *value);
int XGBoosterPredictFromDense(BoosterHandle handle, const char *values, const char *config,
                              DMatrixHandle m, bst_ulong const **out_shape, bst_ulong *out_dim,
                              const float **out_result);
const char *XGBGetLastError(void);

static BoosterHandle booster;
static const char *config =
    "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, "
    "\"strict_shape\": false, \"missing\": NaN}";

int peer_init(const char *model_arg, int n_features, int max_rows) {
    (void)n_features; (void)max_rows;
    if (XGBoosterCreate(NULL, 0, &booster) || XGBoosterLoadModel(booster, model_arg) ||
        XGBoosterSetParam(booster, "nthread", "1")) {
        fprintf(stderr, "xgboost: %s\n", XGBGetLastError());
        return 1;
    }
    return 0;
}

static const float *predict(const float *rows, int n_rows, int n_features) {
    char interface[256];
    snprintf(interface, sizeof interface,
             "{\"data\": [%llu, true], \"shape\": [%d, %d], \"typestr\": \"<f4\", \"version\": 3}",
             (unsigned long long)(uintptr_t)rows, n_rows, n_features);
    bst_ulong const *shape;
    bst_ulong dim;
    const float *result = NULL;
    if (XGBoosterPredictFromDense(booster, interface, config, NULL, &shape, &dim, &result)) {
        fprintf(stderr, "xgboost: %s\n", XGBGetLastError());
        return NULL;
    }
    return result;
}

float peer_predict1(const float *row, int n_features) {
    const float *r = predict(row, 1, n_features);
    return r ? r[0] : NAN;
}

void peer_batch(const float *rows, int n_rows, int n_features, float *out) {
    const float *r = predict(rows, n_rows, n_features);
    if (r) memcpy(out, r, sizeof(float) * n_rows);
}
