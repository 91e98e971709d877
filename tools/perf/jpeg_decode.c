/* The floor of the image pipeline: libjpeg-turbo's own decode rate (TurboJPEG API, default
 * accurate DCT, RGB output into one reused buffer) on a folder of JPEGs, one thread, files
 * read into memory first. Run by tools/perf/images: jpeg_decode DIR [ROUNDS]. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <turbojpeg.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int collect(const char *dir, char ***bufs, size_t **lens, int *n, int *cap)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 5, ".JPEG") != 0) {
            collect(path, bufs, lens, n, cap); /* a class folder */
            continue;
        }
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, 0, SEEK_SET);
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 256;
            *bufs = realloc(*bufs, sizeof(char *) * (size_t)*cap);
            *lens = realloc(*lens, sizeof(size_t) * (size_t)*cap);
        }
        (*bufs)[*n] = malloc((size_t)size);
        (*lens)[*n] = fread((*bufs)[*n], 1, (size_t)size, f);
        (*n)++;
        fclose(f);
    }
    closedir(d);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        printf("jpeg_decode: needs a folder of .JPEG files (tools/perf/images runs it)\n");
        return 0;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 3;
    char **bufs = NULL;
    size_t *lens = NULL;
    int n = 0, cap = 0;
    collect(argv[1], &bufs, &lens, &n, &cap);
    if (n == 0) {
        fprintf(stderr, "jpeg_decode: no .JPEG files under %s\n", argv[1]);
        return 1;
    }
    tjhandle tj = tjInitDecompress();
    unsigned char *out = malloc(4096 * 4096 * 3);
    double best = 1e30;
    for (int r = 0; r < rounds; r++) {
        double t0 = now();
        for (int i = 0; i < n; i++) {
            int w, h, sub, cs;
            if (tjDecompressHeader3(tj, (unsigned char *)bufs[i], lens[i], &w, &h, &sub, &cs) ||
                tjDecompress2(tj, (unsigned char *)bufs[i], lens[i], out, w, 0, h, TJPF_RGB, 0)) {
                fprintf(stderr, "jpeg_decode: %s\n", tjGetErrorStr2(tj));
                return 1;
            }
        }
        double t = now() - t0;
        if (t < best) best = t;
    }
    printf("%d %.6f\n", n, best);
    tjDestroy(tj);
    return 0;
}
