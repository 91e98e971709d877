/* The threaded DataLoader core: order, content, shuffle, drop_last, worker errors and
 * early stop (no thread left), buffers kept valid past the end of a pass. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "data/loader.h"
#include "sbtest.h"

enum { N = 103, H = 4, W = 5 };
static uint8_t images[N * H * W];
static int64_t labels[N];

static sb_dataset *make_dataset(void)
{
    for (int i = 0; i < N; i++) {
        labels[i] = i * 3;
        for (int p = 0; p < H * W; p++)
            images[i * H * W + p] = (uint8_t)(i + p);
    }
    sb_sample_spec in = {SB_UINT8, 2, {H, W}}, tg = {SB_INT64, 0, {0}};
    sb_dataset *ds = NULL;
    SB_CHECK(sb_array_dataset_new("Synthetic", N, &in, images, &tg, labels, NULL, NULL, &ds) ==
             SB_OK);
    return ds;
}

static int thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

/* Runs a full pass and checks every batch against a direct read in `order`. */
static void check_pass(sb_dataset *ds, sb_transform *tf, sb_loader_options o, const int64_t *order)
{
    sb_loader *l = NULL;
    SB_CHECK(sb_loader_new(ds, tf, &o, &l) == SB_OK);
    if (!l) return;
    int64_t expect_batches = o.drop_last ? N / o.batch_size : (N + o.batch_size - 1) / o.batch_size;
    SB_CHECK(sb_loader_num_batches(l) == expect_batches);
    sb_loader_iter *it = NULL;
    SB_CHECK(sb_loader_iter_new(l, &it) == SB_OK);
    int64_t seen = 0, batches = 0;
    for (;;) {
        sb_tensor *x = NULL, *y = NULL;
        bool done = false;
        SB_CHECK(sb_loader_iter_next(it, &x, &y, &done) == SB_OK);
        if (done || !x) break;
        batches++;
        int64_t count = x->sizes[0];
        SB_CHECK(y->sizes[0] == count && y->dtype == SB_INT64);
        for (int64_t j = 0; j < count; j++, seen++) {
            int64_t idx = order ? order[seen] : seen;
            SB_CHECK(((int64_t *)sb_tensor_data(y))[j] == labels[idx]);
            if (tf) {
                const float *px = (const float *)sb_tensor_data(x) + j * H * W;
                SB_CHECK(px[7] == (float)images[idx * H * W + 7] / 255.0f);
            } else {
                SB_CHECK(memcmp((uint8_t *)sb_tensor_data(x) + j * H * W, images + idx * H * W,
                                H * W) == 0);
            }
        }
        sb_tensor_free(x);
        sb_tensor_free(y);
    }
    SB_CHECK(batches == expect_batches);
    SB_CHECK(seen == (o.drop_last ? expect_batches * o.batch_size : N));
    sb_loader_iter_free(it);
    sb_loader_free(l);
}

static void test_order_for_every_worker_count(void)
{
    sb_dataset *ds = make_dataset();
    sb_transform *tf = NULL;
    sb_transform_new(&tf);
    sb_transform_add_to_tensor(tf);
    int workers[] = {0, 1, 2, 4};
    for (int w = 0; w < 4; w++) {
        sb_loader_options o = {.batch_size = 10, .num_workers = workers[w], .prefetch = 2};
        check_pass(ds, NULL, o, NULL);
        check_pass(ds, tf, o, NULL);
        o.drop_last = true;
        o.batch_size = 7;
        check_pass(ds, tf, o, NULL);
        /* Shuffled: the same permutation whatever the worker count. */
        int64_t perm[N];
        sb_permutation(N, 42, 0, perm);
        sb_loader_options s = {.batch_size = 16,
                               .num_workers = workers[w],
                               .prefetch = 1,
                               .shuffle = true,
                               .seed = 42};
        check_pass(ds, NULL, s, perm);
    }
    sb_transform_free(tf);
    sb_dataset_release(ds);
}

static void test_permutation(void)
{
    int64_t a[50], b[50], c[50];
    sb_permutation(50, 7, 0, a);
    sb_permutation(50, 7, 0, b);
    sb_permutation(50, 7, 1, c);
    SB_CHECK(memcmp(a, b, sizeof a) == 0);
    SB_CHECK(memcmp(a, c, sizeof a) != 0);
    int hits[50] = {0};
    for (int i = 0; i < 50; i++)
        hits[a[i]]++;
    for (int i = 0; i < 50; i++)
        SB_CHECK(hits[i] == 1);
}

/* A dataset whose sample 57 (0-based) cannot be read. */
static sb_status failing_get(const sb_dataset *ds, int64_t index, const void **input,
                             const void **target, void *scratch)
{
    (void)ds;
    (void)scratch;
    if (index == 57) return sb_fail(SB_EIO, "cannot decode sample");
    *input = images + index * H * W;
    *target = labels + index;
    return SB_OK;
}
static void failing_destroy(sb_dataset *ds)
{
    (void)ds;
}
static const sb_dataset_ops failing_ops = {failing_get, failing_destroy, NULL};

static void test_worker_error_names_the_index_and_stops(void)
{
    int before = thread_count();
    int workers[] = {0, 2, 4};
    for (int w = 0; w < 3; w++) {
        sb_dataset *ds = calloc(1, sizeof *ds);
        *ds = (sb_dataset){.ops = &failing_ops,
                           .name = "Broken",
                           .length = N,
                           .input = {SB_UINT8, 2, {H, W}},
                           .target = {SB_INT64, 0, {0}},
                           .has_target = true,
                           .refcount = 1};
        sb_loader_options o = {.batch_size = 10, .num_workers = workers[w], .prefetch = 2};
        sb_loader *l;
        SB_CHECK(sb_loader_new(ds, NULL, &o, &l) == SB_OK);
        sb_loader_iter *it;
        SB_CHECK(sb_loader_iter_new(l, &it) == SB_OK);
        sb_status s = SB_OK;
        int good = 0;
        for (;;) {
            sb_tensor *x, *y;
            bool done;
            s = sb_loader_iter_next(it, &x, &y, &done);
            if (s != SB_OK || done) break;
            good++;
            sb_tensor_free(x);
            sb_tensor_free(y);
        }
        SB_CHECK(s == SB_EIO);
        SB_CHECK(good == 5); /* batches 1..5 arrive, batch 6 holds index 58 (1-based) */
        SB_CHECK_STR_CONTAINS(sb_error_message(), "Broken: dataset index 58: cannot decode sample");
        SB_CHECK(thread_count() == before); /* the failure stopped every worker */
        sb_loader_iter_free(it);
        sb_loader_free(l);
        sb_dataset_release(ds);
    }
}

static void test_early_stop_leaves_no_thread_and_batches_stay_valid(void)
{
    sb_dataset *ds = make_dataset();
    int before = thread_count();
    sb_loader_options o = {.batch_size = 5, .num_workers = 4, .prefetch = 3};
    sb_loader *l;
    SB_CHECK(sb_loader_new(ds, NULL, &o, &l) == SB_OK);
    sb_loader_iter *it;
    SB_CHECK(sb_loader_iter_new(l, &it) == SB_OK);
    SB_CHECK(thread_count() == before + 4);
    sb_tensor *x, *y;
    bool done;
    SB_CHECK(sb_loader_iter_next(it, &x, &y, &done) == SB_OK);
    sb_loader_iter_free(it); /* `break` after the first batch */
    SB_CHECK(thread_count() == before);
    sb_loader_free(l);
    sb_dataset_release(ds);
    /* The batch handed out is still ours, after the pass and the loader are gone. */
    SB_CHECK(memcmp(sb_tensor_data(x), images, 5 * H * W) == 0);
    SB_CHECK(((int64_t *)sb_tensor_data(y))[4] == labels[4]);
    sb_tensor_free(x);
    sb_tensor_free(y);
}

static void test_option_errors(void)
{
    sb_dataset *ds = make_dataset();
    sb_loader *l;
    sb_loader_options o = {.batch_size = 0, .prefetch = 2};
    SB_CHECK(sb_loader_new(ds, NULL, &o, &l) == SB_EINVAL);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "batch_size");
    o.batch_size = 4;
    o.prefetch = 0;
    SB_CHECK(sb_loader_new(ds, NULL, &o, &l) == SB_EINVAL);
    o.prefetch = 2;
    sb_transform *tf;
    sb_transform_new(&tf);
    double m = 0.5, sd = 0.5;
    sb_transform_add_normalize(tf, 1, &m, &sd);
    SB_CHECK(sb_loader_new(ds, tf, &o, &l) == SB_EINVAL);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "Normalize");
    sb_transform_free(tf);
    o.pin_memory = true;
    SB_CHECK(sb_loader_new(ds, NULL, &o, &l) == SB_OK);
    const char *why = NULL;
    if (!sb_loader_pinned(l, &why)) SB_CHECK(why != NULL && strlen(why) > 10);
    sb_loader_free(l);
    sb_dataset_release(ds);
}

int main(void)
{
    SB_RUN(test_permutation);
    SB_RUN(test_order_for_every_worker_count);
    SB_RUN(test_worker_error_names_the_index_and_stops);
    SB_RUN(test_early_stop_leaves_no_thread_and_batches_stay_valid);
    SB_RUN(test_option_errors);
    return sb_test_summary();
}
