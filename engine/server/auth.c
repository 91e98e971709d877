/* Users, tokens and the rate limit.
 *
 * A token is 32 random bytes (libsodium's randombytes) written as 64 hex digits; the server
 * keeps only its SHA-256, so a copy of the database gives no working token. SHA-256 is enough
 * for a random 256-bit secret; passwords, which are not random, are hashed with libsodium's
 * crypto_pwhash_str (argon2id, the "interactive" limits). */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/sha256.h"
#include "server/server.h"

static void token_hash(const char *token, size_t n, char hex[65])
{
    sb_sha256 h;
    sb_sha256_init(&h);
    sb_sha256_update(&h, token, n);
    sb_sha256_final_hex(&h, hex);
}

static sb_status new_token(sb_db *db, const char *user_id, char token[65])
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(token, 65, raw, sizeof raw);
    char hash[65], now[32];
    token_hash(token, 64, hash);
    sb_now_iso(now);
    const char *p[] = {hash, user_id, now};
    return sb_db_run(db, SQL_TOKEN_INSERT, 3, p, NULL);
}

/* One argon2id hash at a time: each takes 64 MiB for a moment. */
static pthread_mutex_t pwhash_lock = PTHREAD_MUTEX_INITIALIZER;

sb_status sb_auth_add_user(sb_db *db, const char *name, const char *password, char token[65])
{
    if (sodium_init() < 0) return sb_fail(SB_EUNSUPPORTED, "libsodium could not start");
    if (!*name || strlen(name) > 150)
        return sb_fail(SB_EINVAL, "a user name must have 1 to 150 bytes");
    char stored[crypto_pwhash_STRBYTES] = "";
    if (password) {
        pthread_mutex_lock(&pwhash_lock);
        int rc = crypto_pwhash_str(stored, password, strlen(password),
                                   crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                   crypto_pwhash_MEMLIMIT_INTERACTIVE);
        pthread_mutex_unlock(&pwhash_lock);
        if (rc != 0) return sb_fail(SB_ENOMEM, "hashing the password failed (out of memory)");
    }
    char now[32];
    sb_now_iso(now);
    SB_TRY(sb_db_begin(db));
    sb_rows rows;
    const char *p[] = {name, password ? stored : NULL, now};
    sb_status st = sb_db_run(db, SQL_USER_BY_NAME, 1, p, &rows);
    if (st == SB_OK && rows.nrows > 0)
        st = sb_fail(SB_EINVAL, "a user named '%s' exists already", name);
    sb_rows_free(&rows);
    if (st == SB_OK) st = sb_db_run(db, SQL_USER_INSERT, 3, p, &rows);
    if (st == SB_OK) st = new_token(db, sb_cell(&rows, 0, 0), token);
    sb_rows_free(&rows);
    if (st == SB_OK) st = sb_db_commit(db);
    if (st != SB_OK) sb_db_rollback(db);
    return st;
}

sb_status sb_auth_login(sb_db *db, const char *name, const char *password, char token[65])
{
    if (sodium_init() < 0) return sb_fail(SB_EUNSUPPORTED, "libsodium could not start");
    sb_rows rows;
    const char *p[] = {name};
    SB_TRY(sb_db_run(db, SQL_USER_BY_NAME, 1, p, &rows));
    bool ok = false;
    if (rows.nrows == 1 && sb_cell(&rows, 0, 1)) {
        pthread_mutex_lock(&pwhash_lock);
        ok = crypto_pwhash_str_verify(sb_cell(&rows, 0, 1), password, strlen(password)) == 0;
        pthread_mutex_unlock(&pwhash_lock);
    }
    sb_status st = ok ? new_token(db, sb_cell(&rows, 0, 0), token)
                      : sb_fail(SB_EINVAL, "unknown user name or wrong password");
    sb_rows_free(&rows);
    return st;
}

/* The token of an Authorization header ("JWT t", "Token t", "Bearer t"), or NULL. */
static const char *header_token(const char *authorization, size_t *n)
{
    if (!authorization) return NULL;
    static const char *const schemes[] = {"JWT ", "Token ", "Bearer "};
    for (size_t i = 0; i < 3; i++) {
        size_t k = strlen(schemes[i]);
        if (strncasecmp(authorization, schemes[i], k) == 0) {
            const char *t = authorization + k;
            while (*t == ' ')
                t++;
            *n = strcspn(t, " \t\r\n");
            return *n ? t : NULL;
        }
    }
    return NULL;
}

sb_status sb_auth_user(sb_db *db, const char *authorization, int64_t *user)
{
    *user = 0;
    size_t n = 0;
    const char *token = header_token(authorization, &n);
    if (!token || n > 256) return SB_OK;
    char hash[65];
    token_hash(token, n, hash);
    sb_rows rows;
    const char *p[] = {hash};
    SB_TRY(sb_db_run(db, SQL_TOKEN_USER, 1, p, &rows));
    if (rows.nrows == 1) *user = strtoll(sb_cell(&rows, 0, 0), NULL, 10);
    sb_rows_free(&rows);
    return SB_OK;
}

/* ---- rate limit: a token bucket per token, in a fixed table ----------------------------- */

enum { RL_SLOTS = 4096 };

typedef struct rl_slot {
    uint64_t key; /* 0 = free */
    double tokens, last;
} rl_slot;

struct sb_ratelimit {
    pthread_mutex_t lock;
    double per_second, burst;
    rl_slot slots[RL_SLOTS];
};

sb_ratelimit *sb_ratelimit_new(double per_minute)
{
    sb_ratelimit *rl = calloc(1, sizeof *rl);
    if (!rl) return NULL;
    pthread_mutex_init(&rl->lock, NULL);
    rl->per_second = per_minute / 60.0;
    rl->burst = per_minute;
    return rl;
}

void sb_ratelimit_free(sb_ratelimit *rl)
{
    if (!rl) return;
    pthread_mutex_destroy(&rl->lock);
    free(rl);
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

long sb_ratelimit_take(sb_ratelimit *rl, const char *authorization)
{
    size_t n = 0;
    const char *token = header_token(authorization, &n);
    if (!rl || !token) return 0; /* requests without a token are refused (401) elsewhere */
    uint8_t digest[32];
    sb_sha256 h;
    sb_sha256_init(&h);
    sb_sha256_update(&h, token, n);
    sb_sha256_final(&h, digest);
    uint64_t key;
    memcpy(&key, digest, sizeof key);
    if (!key) key = 1;
    double now = mono_now();
    pthread_mutex_lock(&rl->lock);
    /* Open addressing; a full neighbourhood evicts its stalest slot (a forgotten token
     * starts again with a full bucket: generous, never wrong in the client's disfavour). */
    rl_slot *slot = NULL, *oldest = NULL;
    for (size_t i = 0; i < 16; i++) {
        rl_slot *s = &rl->slots[(key + i) % RL_SLOTS];
        if (s->key == key || s->key == 0) {
            slot = s;
            break;
        }
        if (!oldest || s->last < oldest->last) oldest = s;
    }
    if (!slot) slot = oldest;
    if (slot->key != key) *slot = (rl_slot){key, rl->burst, now};
    slot->tokens += (now - slot->last) * rl->per_second;
    if (slot->tokens > rl->burst) slot->tokens = rl->burst;
    slot->last = now;
    long wait = 0;
    if (slot->tokens >= 1.0) {
        slot->tokens -= 1.0;
    } else {
        double w = (1.0 - slot->tokens) / rl->per_second;
        wait = (long)w + 1;
    }
    pthread_mutex_unlock(&rl->lock);
    return wait;
}
