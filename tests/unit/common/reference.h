/* Loading tests/data/encoder_reference.json for the encoder's tests. */
#ifndef TEST_REFERENCE_H
#define TEST_REFERENCE_H

#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

static cJSON *
load_reference(void)
{
    FILE *f = fopen("tests/data/encoder_reference.json", "rb");
    char *buf;
    long n;

    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = malloc((size_t)n + 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    fclose(f);
    cJSON *doc = cJSON_Parse(buf);
    free(buf);
    return doc;
}

static const char *
model_dir(void)
{
    const char *d = getenv("MODEL_DIR");
    return d ? d : "build/model/minilm";
}

#endif
