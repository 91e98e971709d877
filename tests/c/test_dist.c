/* engine/dist/ without a launcher: which environment counts as one, and the collectives of
 * rank 0 of 1 (the ranks of a real MPI job are tests/cli/dist_mpi.sh's). */
#include <stdlib.h>

#include "dist/dist.h"
#include "sbtest.h"

static const char *const launcher_vars[] = {
    "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE",
    "SLURM_PROCID",         "SLURM_STEP_NUM_TASKS"};

static void clear_launcher(void)
{
    for (size_t k = 0; k < sizeof launcher_vars / sizeof *launcher_vars; k++)
        unsetenv(launcher_vars[k]);
}

static void test_launcher_environment(void)
{
    clear_launcher();
    SB_CHECK(sb_dist_launcher() == NULL);
    setenv("OMPI_COMM_WORLD_RANK", "1", 1);
    setenv("OMPI_COMM_WORLD_SIZE", "3", 1);
    SB_CHECK_STR_CONTAINS(sb_dist_launcher(), "OMPI_COMM_WORLD_SIZE=3");
    clear_launcher();
    setenv("PMIX_RANK", "0", 1);
    SB_CHECK_STR_CONTAINS(sb_dist_launcher(), "PMIX_RANK=0");
    clear_launcher();
    setenv("PMI_RANK", "2", 1);
    setenv("PMI_SIZE", "4", 1);
    SB_CHECK_STR_CONTAINS(sb_dist_launcher(), "PMI_SIZE=4");
    clear_launcher();
    /* A Slurm batch script (one task, or no step) is not a launch of several ranks. */
    setenv("SLURM_PROCID", "0", 1);
    SB_CHECK(sb_dist_launcher() == NULL);
    setenv("SLURM_STEP_NUM_TASKS", "1", 1);
    SB_CHECK(sb_dist_launcher() == NULL);
    setenv("SLURM_STEP_NUM_TASKS", "8", 1);
    SB_CHECK_STR_CONTAINS(sb_dist_launcher(), "SLURM_STEP_NUM_TASKS=8");
    clear_launcher();
}

static void test_one_process(void)
{
    clear_launcher();
    SB_CHECK(sb_dist_start() == SB_OK);
    SB_CHECK(!sb_dist_active());
    SB_CHECK(sb_dist_rank() == 0 && sb_dist_size() == 1 && sb_dist_local_rank() == 0);
    SB_CHECK(sb_dist_library_version() == NULL);
    SB_CHECK(sb_dist_barrier() == SB_OK);

    void *all = NULL;
    int64_t *lens = NULL;
    SB_CHECK(sb_dist_gather("abc", 3, &all, &lens) == SB_OK);
    SB_CHECK(all && lens && lens[0] == 3 && memcmp(all, "abc", 3) == 0);
    free(all);
    free(lens);

    void *out = NULL;
    size_t n = 0;
    SB_CHECK(sb_dist_broadcast("hello", 5, &out, &n) == SB_OK);
    SB_CHECK(n == 5 && memcmp(out, "hello", 5) == 0);
    free(out);

    int64_t done = -1;
    int finished = -1;
    SB_CHECK(sb_dist_progress_send(3, true) == SB_OK);
    SB_CHECK(sb_dist_progress_poll(&done, &finished, 0.5) == SB_OK);
    SB_CHECK(done == 0 && finished == 0);
}

static void test_all_reduce_checks_its_tensor(void)
{
    sb_tensor *t = NULL;
    int64_t size = 3;
    SB_CHECK(sb_tensor_zeros(1, &size, SB_FLOAT64, SB_CPU, &t) == SB_OK);
    SB_CHECK(sb_dist_all_reduce(t, SB_DIST_OP_SUM) == SB_OK); /* one rank: unchanged */
    sb_tensor_free(t);
    SB_CHECK(sb_tensor_zeros(1, &size, SB_UINT8, SB_CPU, &t) == SB_OK);
    SB_CHECK(sb_dist_all_reduce(t, SB_DIST_OP_MAX) == SB_EINVAL);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "float32, float64, int32 or int64, got uint8");
    sb_tensor_free(t);
}

int main(void)
{
    SB_RUN(test_launcher_environment);
    SB_RUN(test_one_process);
    SB_RUN(test_all_reduce_checks_its_tensor);
    return sb_test_summary();
}
