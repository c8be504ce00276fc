/* db: a small pool of libpq connections shared by threads. */
#include "store/db.h"
#include "util/clock.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct td_db_pool {
    char *dsn;
    size_t size;
    PGconn **idle;
    size_t idle_count;
    size_t open_count; /* idle + lent out */
    pthread_mutex_t lock;
    pthread_cond_t freed;
};

void td_db_error(PGconn *conn, char *err, size_t errcap)
{
    if (!err || !errcap)
        return;
    const char *msg = conn ? PQerrorMessage(conn) : "no connection";
    snprintf(err, errcap, "%s", msg && *msg ? msg : "unknown database error");
    for (char *p = err; *p; p++) {
        if (*p == '\n' || *p == '\r')
            *p = (p[1] ? ' ' : '\0');
    }
}

PGconn *td_db_connect(const char *dsn, char *err, size_t errcap)
{
    const char *keys[] = {"dbname", "application_name", "connect_timeout", NULL};
    const char *values[] = {dsn, "tidings", "5", NULL};
    PGconn *c = PQconnectdbParams(keys, values, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        td_db_error(c, err, errcap);
        PQfinish(c);
        return NULL;
    }
    /* Timestamps are exchanged as UTC text; local times are computed in SQL.
     * JIT compilation costs more (10-25 ms) than the engine's short queries
     * take; the row guesses for JSON parameters would otherwise trigger it.
     * The store's statements are prepared once per session (store_common.c)
     * but planned at every call with its parameters: a generic plan made
     * while a table was small would outlive the table's growth. */
    PGresult *r =
        PQexec(c, "SET TIME ZONE 'UTC'; SET jit = off; SET plan_cache_mode = force_custom_plan");
    PQclear(r);

    return c;
}

bool td_db_connection_lost(PGconn *conn)
{
    return !conn || PQstatus(conn) != CONNECTION_OK;
}

int td_db_exec(PGconn *conn, const char *sql, char *err, size_t errcap)
{
    PGresult *r = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) ? 0 : -EIO;
    if (rc < 0)
        td_db_error(conn, err, errcap);
    PQclear(r);
    return rc;
}

struct td_db_pool *td_db_pool_create(const char *dsn, size_t size)
{
    struct td_db_pool *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->dsn = strdup(dsn);
    p->idle = calloc(size, sizeof(*p->idle));
    if (!p->dsn || !p->idle) {
        free(p->dsn);
        free(p->idle);
        free(p);
        return NULL;
    }
    p->size = size;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->freed, NULL);
    return p;
}

void td_db_pool_destroy(struct td_db_pool *pool)
{
    if (!pool)
        return;
    for (size_t i = 0; i < pool->idle_count; i++)
        PQfinish(pool->idle[i]);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->freed);
    free(pool->idle);
    free(pool->dsn);
    free(pool);
}

PGconn *td_db_acquire(struct td_db_pool *pool, int wait_ms, char *err, size_t errcap)
{
    struct timespec deadline = td_clock_after_ms(CLOCK_REALTIME, wait_ms);
    pthread_mutex_lock(&pool->lock);
    while (pool->idle_count == 0 && pool->open_count >= pool->size) {
        if (pthread_cond_timedwait(&pool->freed, &pool->lock, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&pool->lock);
            if (err)
                snprintf(err, errcap, "all %zu database connections are busy", pool->size);
            return NULL;
        }
    }
    PGconn *c = NULL;
    if (pool->idle_count)
        c = pool->idle[--pool->idle_count];
    else
        pool->open_count++;
    pthread_mutex_unlock(&pool->lock);

    if (c && PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        c = NULL;
    }
    if (!c) {
        c = td_db_connect(pool->dsn, err, errcap);
        if (!c) {
            pthread_mutex_lock(&pool->lock);
            pool->open_count--;
            pthread_cond_signal(&pool->freed);
            pthread_mutex_unlock(&pool->lock);
        }
    }
    return c;
}

void td_db_release(struct td_db_pool *pool, PGconn *conn, bool broken)
{
    if (!conn)
        return;
    if (!broken && PQtransactionStatus(conn) != PQTRANS_IDLE) {
        /* a caller left a transaction open: never hand that to the next one */
        PGresult *r = PQexec(conn, "ROLLBACK");
        PQclear(r);
    }
    pthread_mutex_lock(&pool->lock);
    if (broken || PQstatus(conn) != CONNECTION_OK) {
        PQfinish(conn);
        pool->open_count--;
    } else {
        pool->idle[pool->idle_count++] = conn;
    }
    pthread_cond_signal(&pool->freed);
    pthread_mutex_unlock(&pool->lock);
}
