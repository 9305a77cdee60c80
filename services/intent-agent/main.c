/*
 * intent-agent - classifies a customer message into one of the seven
 * intents. `--classify` runs the same code over JSON lines on stdin.
 */
#include <stdio.h>

#include <curl/curl.h>
#include <string.h>

#include "classify_cli.h"
#include "daemon.h"
#include "encoder.h"
#include "llm.h"
#include "log.h"
#include "service.h"

int
main(int argc, char **argv)
{
    struct config cfg;
    struct encoder *enc = NULL;
    struct classifier *clf = NULL;
    struct intent_service svc;
    struct llm *llm = NULL;
    struct bus_events *events = NULL;
    enum intent_mode mode = MODE_BUILTIN;
    bool cli = argc > 1 && strcmp(argv[1], "--classify") == 0;
    int rv = 1;

    daemon_init(argc, argv, "intent-agent", SVC_INTENT, &cfg);
    enum encoder_precision precision = ENCODER_AUTO;
    encoder_precision_parse(cfg.encoder_precision, &precision); /* checked */
    if (encoder_load_with(&enc, cfg.encoder_dir, precision) != 0)
        log_warn(
            "no sentence encoder in %s: n-gram model only", cfg.encoder_dir);
    if (classifier_load(&clf, cfg.intent_model, enc) != 0) {
        log_error("cannot load the intent model %s", cfg.intent_model);
        goto out;
    }
    log_info("intent model %s loaded (%s%s)", cfg.intent_model,
        classifier_uses_encoder(clf) ? "n-grams + sentence encoder, "
                                     : "n-grams",
        classifier_uses_encoder(clf)
            ? encoder_precision_name(encoder_get_precision(enc))
            : "");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (strcmp(cfg.intent_mode, "builtin") != 0) {
        mode = strcmp(cfg.intent_mode, "llm") == 0 ? MODE_LLM : MODE_HYBRID;
        if (daemon_llm(&cfg, 1, false, &llm) != 0)
            goto out;
        log_info("intent mode %s: model %s", cfg.intent_mode, cfg.llm_model);
    }
    if (cli) {
        rv = classify_cli_run(stdin, stdout, clf) == 0 ? 0 : 1;
    } else if (intent_service_start(&svc, clf, llm, mode, cfg.intent_batchers)
        == 0) {
        bus_events_open(&events, cfg.events_addr, "intent-agent", cfg.instance,
            cfg.event_queue);
        rv = daemon_serve(&cfg, "intent-agent", cfg.intent_addr,
            intent_service_handle, &svc, intent_service_inline, NULL, events);
        intent_service_stop(&svc);
        bus_events_close(events);
    }
out:
    llm_free(llm);
    curl_global_cleanup();
    classifier_free(clf);
    encoder_free(enc);
    config_release(&cfg);
    return rv;
}
