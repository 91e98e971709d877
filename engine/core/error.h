/* Status codes and the error message channel of the core C library.
 *
 * Core C never raises, prints or exits: a failing function records a message with
 * sb_fail() and returns its status; the Lua binding turns that into a Lua error
 * (sbL_check in engine/bindings/l_util.h). The message buffer is thread-local, so
 * worker threads (DataLoader) can fail independently of the Lua thread. */
#ifndef SB_CORE_ERROR_H
#define SB_CORE_ERROR_H

typedef enum sb_status {
    SB_OK = 0,
    SB_EINVAL,       /* bad argument: shape, dim, dtype, option */
    SB_ENOMEM,       /* allocation failed */
    SB_ERANGE,       /* index or size out of range, overflow */
    SB_EIO,          /* file system error */
    SB_EFORMAT,      /* malformed file or payload */
    SB_ENET,         /* network failure */
    SB_EDEVICE,      /* CUDA / device failure, or a device that is not there */
    SB_EUNSUPPORTED, /* valid request this build or backend cannot do */
    SB_ESTATE        /* object used in a state that forbids it (freed tensor...) */
} sb_status;

#if defined(__GNUC__)
#define SB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define SB_PRINTF(f, a)
#endif

/* Records a printf-style message for the calling thread and returns `code`. */
sb_status sb_fail(sb_status code, const char *fmt, ...) SB_PRINTF(2, 3);
/* Prefixes the current message with "prefix: " (adds context on the way up). */
sb_status sb_fail_context(sb_status code, const char *fmt, ...) SB_PRINTF(2, 3);
/* The calling thread's last message ("" when none). */
const char *sb_error_message(void);
void sb_error_clear(void);
/* A short name for a status ("invalid argument", ...). */
const char *sb_status_name(sb_status code);

#define SB_TRY(expr)                                                                               \
    do {                                                                                           \
        sb_status sb_try_status_ = (expr);                                                         \
        if (sb_try_status_ != SB_OK) return sb_try_status_;                                        \
    } while (0)

#endif
