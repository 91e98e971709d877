/* libFuzzer target: the restricted unpickler alone, with a small allow-list whose globals
 * build values, are only values, or accept BUILD, and a persistent_load that returns its
 * id. Built and run by tests/fuzz/Makefile. */
#include <stddef.h>
#include <stdint.h>

#include "io/unpickler.h"

static sb_status make_dict(sb_pickle *p, void *ctx, const sb_pickle_global *self,
                           sb_pickle_value *args, sb_pickle_value **out)
{
    (void)ctx, (void)self, (void)args;
    *out = sb_pickle_new_value(p, SB_PICKLE_DICT);
    return *out ? SB_OK : SB_ENOMEM;
}

static sb_status accept_state(sb_pickle *p, void *ctx, sb_pickle_value *obj, sb_pickle_value *state)
{
    (void)p, (void)ctx, (void)obj, (void)state;
    return SB_OK;
}

static sb_status identity(sb_pickle *p, void *ctx, sb_pickle_value *pid, sb_pickle_value **out)
{
    (void)p, (void)ctx;
    *out = pid;
    return SB_OK;
}

static const sb_pickle_global globals[] = {
    {"collections", "OrderedDict", make_dict, accept_state},
    {"torch", "FloatStorage", NULL, NULL},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sb_unpickle_config cfg = {globals, 2, identity, NULL, "fuzz"};
    sb_pickle *p = sb_pickle_new();
    sb_pickle_value *root;
    size_t used;
    if (p) sb_unpickle(p, data, size, &cfg, &root, &used);
    sb_pickle_free(p);
    return 0;
}
