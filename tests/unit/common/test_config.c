#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

static void
clear_env(void)
{
    unsetenv("PORT");
    unsetenv("VAR_DIR");
    unsetenv("MONGO_URI");
    unsetenv("JWT_SECRET");
    unsetenv("LOG_LEVEL");
    unsetenv("ADMIN_USERNAME");
    unsetenv("ADMIN_PASSWORD");
    unsetenv("INTENT_ADDR");
    unsetenv("LLM_API_KEY");
    unsetenv("OPENAI_API_KEY");
}

static void
test_defaults(void **state)
{
    struct config cfg;
    char err[256];

    (void)state;
    clear_env();
    setenv("VAR_DIR", "/nonexistent-dir", 1);
    assert_int_equal(config_load(&cfg, SVC_GATEWAY, err, sizeof(err)), 0);
    assert_int_equal(cfg.port, 8080);
    assert_string_equal(cfg.listen_addr, "127.0.0.1");
    assert_string_equal(
        cfg.intent_addr, "ipc:///nonexistent-dir/run/intent.ipc");
    assert_string_equal(cfg.mongo_uri, "mongodb://127.0.0.1:27017/");
    assert_int_equal(cfg.jwt_ttl_s, 86400);
    assert_true(cfg.argon2_m_kib >= 19456);
    assert_true(strchr(cfg.instance, ':') != NULL);
    config_release(&cfg);
}

static void
test_env_overrides(void **state)
{
    struct config cfg;
    char err[256];

    (void)state;
    clear_env();
    setenv("PORT", "9090", 1);
    setenv("INTENT_ADDR", "tcp://10.0.0.1:5555", 1);
    setenv("OPENAI_API_KEY", "sk-test", 1);
    assert_int_equal(config_load(&cfg, SVC_GATEWAY, err, sizeof(err)), 0);
    assert_int_equal(cfg.port, 9090);
    assert_string_equal(cfg.intent_addr, "tcp://10.0.0.1:5555");
    assert_string_equal(cfg.llm_api_key, "sk-test");
    config_release(&cfg);

    /* A daemon dials every gateway of a list; the gateway takes one. */
    setenv("INTENT_ADDR", "tcp://gw-0:5555,tcp://gw-1:5555", 1);
    assert_int_equal(config_load(&cfg, SVC_INTENT, err, sizeof(err)), 0);
    assert_string_equal(cfg.intent_addr, "tcp://gw-0:5555,tcp://gw-1:5555");
    config_release(&cfg);
    unsetenv("INTENT_ADDR");
}

static void
expect_bad(const char *name, const char *value, const char *in_message)
{
    struct config cfg;
    char err[256];

    clear_env();
    setenv(name, value, 1);
    assert_int_equal(config_load(&cfg, SVC_GATEWAY, err, sizeof(err)), -1);
    assert_non_null(strstr(err, in_message));
    config_release(&cfg);
    unsetenv(name);
}

static void
test_bad_values(void **state)
{
    (void)state;
    expect_bad("PORT", "http", "PORT");
    expect_bad("PORT", "70000", "PORT");
    expect_bad("PORT", "80x", "PORT");
    expect_bad("PORT", "", "PORT");
    expect_bad("LOG_LEVEL", "loud", "LOG_LEVEL");
    expect_bad("JWT_SECRET", "short", "32 bytes");
    expect_bad("ADMIN_USERNAME", "boss", "go together");
    expect_bad(
        "INTENT_ADDR", "ipc:///tmp/a.ipc,ipc:///tmp/b.ipc", "one address");
    expect_bad("NOTIFY_ADDR", "tcp://a:1,tcp://b:1", "NOTIFY_ADDR");
}

static void
test_local_store_uri_file(void **state)
{
    struct config cfg;
    char err[256], dir[] = "/tmp/cfgtestXXXXXX", path[300];

    (void)state;
    clear_env();
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/store", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/store/mongo_uri", dir);
    FILE *f = fopen(path, "w");
    fputs("mongodb://127.0.0.1:4242/\n", f);
    fclose(f);
    setenv("VAR_DIR", dir, 1);
    assert_int_equal(config_load(&cfg, SVC_GATEWAY, err, sizeof(err)), 0);
    assert_string_equal(cfg.mongo_uri, "mongodb://127.0.0.1:4242/");
    config_release(&cfg);
    unlink(path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_env_overrides),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_local_store_uri_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
