package org.ptq4j.host.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import org.ptq4j.host.report.ReportDocs;

import java.io.IOException;
import java.io.InputStream;
import java.util.Set;

/** Validates JSON text against the repository's {@code ptq-report.schema.json} (networknt json-schema-validator). */
public final class SchemaCheck {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static JsonSchema schema;

    private SchemaCheck() {}

    private static synchronized JsonSchema schema() {
        if (schema == null) {
            try (InputStream in = ReportDocs.class.getResourceAsStream(ReportDocs.SCHEMA_RESOURCE)) {
                if (in == null) throw new IllegalStateException("schema resource missing: " + ReportDocs.SCHEMA_RESOURCE);
                schema = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V7).getSchema(in);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }
        return schema;
    }

    /** The parsed document; throws AssertionError listing every violation. */
    public static JsonNode valid(String json) {
        try {
            JsonNode doc = JSON.readTree(json);
            Set<ValidationMessage> errors = schema().validate(doc);
            if (!errors.isEmpty()) throw new AssertionError("JSON does not follow ptq-report.schema.json: " + errors + "\n" + abbreviate(json));
            return doc;
        } catch (IOException e) {
            throw new AssertionError("not JSON: " + e.getMessage() + "\n" + abbreviate(json), e);
        }
    }

    private static String abbreviate(String s) { return s.length() < 4000 ? s : s.substring(0, 4000) + " ..."; }
}
