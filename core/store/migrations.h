/* migrations: the schema migrations compiled into the binary (generated from
 * sql/NNN_name.sql by cmake/embed_sql.cmake). */
#ifndef TD_MIGRATIONS_H
#define TD_MIGRATIONS_H

struct td_migration {
    int version;
    const char *name;
    const char *sql;
};

extern const struct td_migration td_migrations[];
extern const unsigned td_migration_count;

#endif
