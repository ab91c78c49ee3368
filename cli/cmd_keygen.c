/* rumor keygen: creates a peer's long-term identity key pair. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "node/keys.h"

static const char usage[] =
    "usage: rumor keygen --out FILE\n"
    "\n"
    "Creates a new X25519 key pair, the peer's identity, in FILE (mode 0600;\n"
    "an existing file is never overwritten), and prints its public key on\n"
    "one line, ready to paste into the other peers' allow-lists.\n"
    "\n"
    "  --out FILE   where to write the key pair\n"
    "  -h, --help   this text\n";

int rm_cmd_keygen(int argc, char **argv) {
    static const struct option options[] = {
        {"out", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *out = NULL;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "ho:", options, NULL)) != -1) {
        switch (ch) {
        case 'o': out = optarg; break;
        case 'h': fputs(usage, stdout); return RM_EXIT_OK;
        default: fputs("Try 'rumor keygen --help'.\n", stderr); return RM_EXIT_USAGE;
        }
    }
    if (!out || optind != argc) {
        rm_cli_error("keygen", "expected --out FILE (try --help)");
        return RM_EXIT_USAGE;
    }
    rm_keypair kp;
    rm_diag d = {{0}};
    rm_err err = rm_keypair_generate(&kp);
    if (!err)
        err = rm_keyfile_write(out, &kp, &d);
    if (err) {
        rm_keypair_wipe(&kp);
        if (d.msg[0]) /* the key file code names the file itself */
            rm_cli_error("keygen", "%s", d.msg);
        else
            rm_cli_error("keygen", "%s: %s", out, rm_strerror(err));
        return RM_EXIT_FAIL;
    }
    char hex[RM_KEY_HEX_CHARS + 1];
    rm_key_to_hex(hex, kp.pk);
    rm_keypair_wipe(&kp);
    printf("%s\n", hex);
    fprintf(stderr, "rumor keygen: wrote %s (mode 0600); the line above is its public key\n",
            out);
    return RM_EXIT_OK;
}
