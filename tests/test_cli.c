/* The rumor binary as a person uses it: help, usage errors that name the
 * flag or file, and the Keras recipe on the real Fashion-MNIST files
 * (Debian's dataset-fashion-mnist) reaching its accuracy bar. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "tests/test_util.h"

/* Runs a shell command line with the rumor binary, capturing stdout+stderr
 * into out; returns the exit status. */
static char out[1 << 16];

static void help_everywhere(void **state) {
    (void)state;
    assert_int_equal(run_rumor(out, sizeof out, "--help"), 0);
    assert_non_null(strstr(out, "train"));
    assert_int_equal(run_rumor(out, sizeof out, "train --help"), 0);
    assert_non_null(strstr(out, "--epochs"));
    assert_int_equal(run_rumor(out, sizeof out, ""), 2);
    assert_int_equal(run_rumor(out, sizeof out, "frobnicate"), 2);
    assert_non_null(strstr(out, "'frobnicate' is not a command"));
}

static void bad_flags_are_named(void **state) {
    (void)state;
    assert_int_equal(run_rumor(out, sizeof out, "train --epochs abc"), 2);
    assert_non_null(strstr(out, "--epochs: 'abc'"));
    assert_int_equal(run_rumor(out, sizeof out, "train --opt rmsprop"), 2);
    assert_non_null(strstr(out, "--opt"));
    assert_int_equal(run_rumor(out, sizeof out, "train --dropout 1.5"), 2);
    assert_non_null(strstr(out, "--dropout"));
    assert_int_equal(run_rumor(out, sizeof out, "train --model mlp:784-x-10"), 2);
    assert_non_null(strstr(out, "mlp:784-x-10"));
    assert_int_equal(run_rumor(out, sizeof out, "train --no-such-flag"), 2);
}

static void bad_data_names_the_file(void **state) {
    (void)state;
    assert_int_equal(run_rumor(out, sizeof out, "train --data %s/missing.csv", RUMOR_TMP), 1);
    assert_non_null(strstr(out, "missing.csv"));
    char path[512];
    snprintf(path, sizeof path, "%s/ragged.csv", RUMOR_TMP);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("1,2,0\n3,4\n", f);
    fclose(f);
    assert_int_equal(run_rumor(out, sizeof out, "train --data %s", path), 1);
    assert_non_null(strstr(out, "ragged.csv"));
    assert_non_null(strstr(out, "line 2"));
}

static void trains_a_csv_file(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/blobs.csv", RUMOR_TMP);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("label,a,b\n", f);
    for (int i = 0; i < 600; i++) { /* three well-separated blobs */
        int k = i % 3;
        fprintf(f, "%d,%.3f,%.3f\n", k, k * 3.0 + (i % 7) * 0.1, -k * 2.0 + (i % 5) * 0.1);
    }
    fclose(f);
    assert_int_equal(run_rumor(out, sizeof out,
                         "train --data %s --model mlp:2-8-3 --epochs 30 --batch 16 "
                         "--lr 0.01 --json --quiet", path), 0);
    assert_true(json_number(out, "test_accuracy") > 0.95);
    assert_int_equal((int)json_number(out, "epochs"), 30);
}

/* Two real peers on 127.0.0.1 (their own processes, keys, allow-list),
 * training on halves of a small CSV and gossiping until they agree. */
static void cluster_of_two_peers(void **state) {
    (void)state;
    char path[512], dir[512];
    snprintf(path, sizeof path, "%s/cluster-blobs.csv", RUMOR_TMP);
    snprintf(dir, sizeof dir, "%s/cluster-%d", RUMOR_TMP, (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 600; i++) {
        int k = i % 3;
        fprintf(f, "%d,%.3f,%.3f\n", k, k * 3.0 + (i % 7) * 0.1, -k * 2.0 + (i % 5) * 0.1);
    }
    fclose(f);
    int port = 20000 + (int)(getpid() % 20000);
    int rc = run_rumor(out, sizeof out,
                       "cluster --peers 2 --data %s --model mlp:2-8-3 --steps 300 "
                       "--batch 16 --lr 0.01 --interval 20 --port %d --dir %s --json",
                       path, port, dir);
    if (rc != 0)
        fail_msg("rumor cluster failed (%d): %s", rc, out);
    assert_int_equal((int)json_number(out, "finished"), 2);
    assert_true(json_number(out, "mean_test_accuracy") > 0.9);
    assert_true(json_number(out, "bytes_sent") > 0);
}

/* rumor node --config: keys are flags, the command line overrides them, a
 * bad key names the file and line. */
static void node_config_files(void **state) {
    (void)state;
    const char *bad = write_text("bad-node.ini",
                                 "[network]\nlisten = 127.0.0.1:7999\n\n[model]\nlearn = 3\n", 0);
    assert_int_equal(run_rumor(out, sizeof out, "node --config %s", bad), 2);
    assert_non_null(strstr(out, "bad-node.ini: line 5: 'learn' is not a setting"));
    const char *badval = write_text("badval-node.ini", "lr = fast\n", 0);
    assert_int_equal(run_rumor(out, sizeof out, "node --config %s", badval), 2);
    assert_non_null(strstr(out, "--lr: 'fast'"));
    /* The file's value is overridden by the flag: listen comes from the
     * file, the key file from the command line (missing here: an error
     * that names it proves the override reached the node). */
    const char *ok = write_text("node.ini", "listen = 127.0.0.1:7999\nkey = from-file.key\n"
                                            "allow = allow.list\n", 0);
    assert_int_equal(run_rumor(out, sizeof out, "node --config %s --key %s/nope.key", ok,
                               RUMOR_TMP), 1);
    assert_non_null(strstr(out, "nope.key"));
    assert_null(strstr(out, "from-file.key"));
}

static void keras_recipe_on_fashion_mnist(void **state) {
    (void)state;
    int rc = run_rumor(out, sizeof out,
                 "train --data fashion-mnist --model mlp:784-128-10 --dropout 0.2 "
                 "--opt adam --lr 0.001 --batch 32 --epochs 5 --schedule none "
                 "--threads 1 --seed 1 --json --quiet");
    if (rc != 0)
        fail_msg("rumor train failed (%d): %s", rc, out);
    double acc = json_number(out, "test_accuracy");
    print_message("Keras recipe, seed 1: test accuracy %.4f\n", acc);
    assert_true(acc >= 0.865);
    assert_true(json_number(out, "test_loss") > 0.0);
    assert_true(json_number(out, "train_seconds") > 0.0);
    assert_true(json_number(out, "samples_per_second") > 0.0);
    assert_int_equal((int)json_number(out, "epochs"), 5);
}

static void keygen_writes_a_private_key_file_once(void **state) {
    (void)state;
    const char *path = tmp_path("cli.key");
    remove(path);
    assert_int_equal(run_rumor(out, sizeof out, "keygen --out %s", path), 0);
    /* One line of the output is the public key: 64 hex digits. */
    bool found = false;
    for (const char *line = out; *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : "")
        found |= strspn(line, "0123456789abcdef") == 64 && line[64] == '\n';
    assert_true(found);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(run_rumor(out, sizeof out, "keygen --out %s", path), 1);
    assert_non_null(strstr(out, "already exists"));
    assert_int_equal(run_rumor(out, sizeof out, "keygen"), 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(help_everywhere),
        cmocka_unit_test(bad_flags_are_named),
        cmocka_unit_test(bad_data_names_the_file),
        cmocka_unit_test(trains_a_csv_file),
        cmocka_unit_test(keygen_writes_a_private_key_file_once),
        cmocka_unit_test(cluster_of_two_peers),
        cmocka_unit_test(node_config_files),
        cmocka_unit_test(keras_recipe_on_fashion_mnist),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
