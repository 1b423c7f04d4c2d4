/* tl2cgen's generated C (predict over union Entry, missing = -1). TL_RESULT is the result type
 * its header.h declares (float for XGBoost models, double for LightGBM's), set by run.py. */
#include <math.h>
#include <stdlib.h>

#include "header.h"
#include "peer.h"

static union Entry *entry;

int peer_init(const char *model_arg, int n_features, int max_rows) {
    (void)model_arg; (void)max_rows;
    entry = malloc(sizeof(union Entry) * (size_t)n_features);
    return entry == NULL;
}

float peer_predict1(const float *row, int n_features) {
    for (int j = 0; j < n_features; j++) {
        if (isnan(row[j])) entry[j].missing = -1;
        else entry[j].fvalue = row[j];
    }
    TL_RESULT result = 0;
    predict(entry, 0, &result);
    return (float)result;
}

#include "loop_batch.h"
