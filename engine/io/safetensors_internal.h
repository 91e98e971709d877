/* What the safetensors files share (io/safetensors.c reads the layout and makes tensors,
 * safetensors_header.c parses the JSON header, safetensors_write.c writes files). */
#ifndef SB_IO_SAFETENSORS_INTERNAL_H
#define SB_IO_SAFETENSORS_INTERNAL_H

#include <stdint.h>

#include "io/safetensors.h"

typedef struct st_dtype {
    const char *name;
    size_t size;
    sb_dtype loaded;
} st_dtype;

/* The file's name of an sbengine dtype, or NULL when safetensors cannot store it. */
const char *sb_st_dtype_name(sb_dtype d);

typedef struct st_info {
    char *name;
    const st_dtype *dtype;
    int ndim;
    int64_t shape[SB_MAX_DIMS];
    uint64_t begin, end;
} st_info;

typedef struct st_header {
    st_info *infos;
    size_t count, cap;
    sb_safetensors_meta *meta;
    size_t meta_count, meta_cap;
} st_header;

/* Parses the header's JSON text [start, end) into *h (zeroed first); `what` (the file)
 * starts every error message. On failure *h holds what was parsed: free it. */
sb_status sb_st_parse_header(const unsigned char *start, const unsigned char *end, const char *what,
                             st_header *h);
void sb_st_header_free(st_header *h);
void sb_st_meta_free(sb_safetensors_meta *meta, size_t count);

#endif
