/* safetensors writing: tensors copied to contiguous host memory, the header written by the
 * JSON writer, the whole file replaced atomically. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "core/json.h"
#include "io/safetensors_internal.h"

/* A contiguous host copy (or alias) of t, named in errors by `name`. */
static sb_status host_contiguous(const sb_tensor *t, const char *name, sb_tensor **out)
{
    sb_tensor *c;
    sb_status st;
    if (sb_tensor_device(t).kind != SB_DEVICE_CPU)
        st = sb_tensor_to_device(t, SB_CPU, &c);
    else
        st = sb_tensor_contiguous(t, &c);
    if (st == SB_OK && !sb_tensor_is_contiguous(c)) {
        sb_tensor *c2;
        st = sb_tensor_contiguous(c, &c2);
        sb_tensor_free(c);
        c = st == SB_OK ? c2 : NULL;
    }
    if (st != SB_OK) return sb_fail_context(st, "tensor '%s'", name);
    *out = c;
    return SB_OK;
}

static size_t data_bytes(const sb_tensor *t)
{
    return (size_t)sb_tensor_numel(t) * sb_dtype_size(t->dtype);
}

/* The header: {"NAME":{"dtype":..,"shape":[..],"data_offsets":[b,e]},...,"__metadata__":{..}}
 * for the host copies in `cpu`, padded with spaces to a multiple of 8 bytes. */
static sb_status write_header(size_t count, const char *const *names, sb_tensor *const *cpu,
                              size_t meta_count, const char *const *meta_keys,
                              const char *const *meta_values, sb_buf *out)
{
    sb_json_writer w;
    sb_json_writer_init(&w, out, false);
    sb_json_begin_object(&w);
    uint64_t offset = 0;
    for (size_t i = 0; i < count; i++) {
        uint64_t bytes = data_bytes(cpu[i]);
        sb_json_key(&w, names[i]);
        sb_json_begin_object(&w);
        sb_json_key(&w, "dtype");
        const char *dname = sb_st_dtype_name(cpu[i]->dtype);
        sb_json_put_string(&w, dname, strlen(dname));
        sb_json_key(&w, "shape");
        sb_json_begin_array(&w);
        for (int d = 0; d < cpu[i]->ndim; d++)
            sb_json_put_integer(&w, cpu[i]->sizes[d]);
        sb_json_end_array(&w);
        sb_json_key(&w, "data_offsets");
        sb_json_begin_array(&w);
        sb_json_put_unsigned(&w, offset);
        sb_json_put_unsigned(&w, offset + bytes);
        sb_json_end_array(&w);
        sb_json_end_object(&w);
        offset += bytes;
    }
    if (meta_count > 0) {
        sb_json_key(&w, "__metadata__");
        sb_json_begin_object(&w);
        for (size_t i = 0; i < meta_count; i++) {
            sb_json_key(&w, meta_keys[i]);
            sb_json_put_string(&w, meta_values[i], strlen(meta_values[i]));
        }
        sb_json_end_object(&w);
    }
    sb_json_end_object(&w);
    SB_TRY(sb_json_writer_status(&w));
    /* Pad with spaces so the data (and so every tensor) starts 8-byte aligned. */
    static const char spaces[8] = "        ";
    return sb_buf_append(out, spaces, (8 - out->len % 8) % 8);
}

/* Names and metadata are checked before anything is copied or written. */
static sb_status check_names(size_t count, const char *const *names,
                             const sb_tensor *const *tensors, size_t meta_count,
                             const char *const *meta_keys, const char *const *meta_values)
{
    for (size_t i = 0; i < count; i++) {
        const char *name = names[i];
        if (!name[0] || strcmp(name, "__metadata__") == 0 || !sb_utf8_valid(name, strlen(name)))
            return sb_fail(SB_EINVAL,
                           "tensor name '%s' is not allowed (empty, \"__metadata__\" "
                           "or not UTF-8)",
                           name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(names[j], name) == 0)
                return sb_fail(SB_EINVAL, "tensor name '%s' appears twice", name);
        if (!sb_st_dtype_name(tensors[i]->dtype))
            return sb_fail(SB_EINVAL, "tensor '%s' has dtype %s, which safetensors cannot store",
                           name, sb_dtype_name(tensors[i]->dtype));
    }
    for (size_t i = 0; i < meta_count; i++)
        if (!sb_utf8_valid(meta_keys[i], strlen(meta_keys[i])) ||
            !sb_utf8_valid(meta_values[i], strlen(meta_values[i])))
            return sb_fail(SB_EINVAL, "metadata '%s' is not valid UTF-8", meta_keys[i]);
    return SB_OK;
}

static sb_status write_file(const char *path, const sb_buf *header, size_t count,
                            sb_tensor *const *cpu)
{
    sb_atomic_file out;
    SB_TRY(sb_atomic_open(&out, path));
    unsigned char len8[8];
    uint64_t hlen = header->len;
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)(hlen >> (8 * i));
    sb_status st = sb_atomic_write(&out, len8, 8);
    if (st == SB_OK) st = sb_atomic_write(&out, header->data, header->len);
    for (size_t i = 0; i < count && st == SB_OK; i++)
        st = sb_atomic_write(&out, sb_tensor_data(cpu[i]), data_bytes(cpu[i]));
    if (st != SB_OK) {
        sb_atomic_abort(&out);
        return st;
    }
    return sb_atomic_commit(&out);
}

sb_status sb_safetensors_save(const char *path, size_t count, const char *const *names,
                              const sb_tensor *const *tensors, size_t meta_count,
                              const char *const *meta_keys, const char *const *meta_values)
{
    SB_TRY(check_names(count, names, tensors, meta_count, meta_keys, meta_values));
    sb_tensor **cpu = calloc(count ? count : 1, sizeof *cpu);
    if (!cpu) return sb_fail(SB_ENOMEM, "save_safetensors: out of memory");
    sb_status st = SB_OK;
    for (size_t i = 0; i < count && st == SB_OK; i++)
        st = host_contiguous(tensors[i], names[i], &cpu[i]);
    sb_buf header = {0};
    if (st == SB_OK)
        st = write_header(count, names, cpu, meta_count, meta_keys, meta_values, &header);
    if (st == SB_OK) st = write_file(path, &header, count, cpu);
    sb_buf_free(&header);
    for (size_t i = 0; i < count; i++)
        sb_tensor_free(cpu[i]);
    free(cpu);
    return st;
}
