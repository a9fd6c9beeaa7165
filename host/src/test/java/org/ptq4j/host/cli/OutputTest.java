package org.ptq4j.host.cli;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OutputTest {
    @Test
    void longReportTablesAreCutForPeopleButNotForJson() {
        List<Map<String, Object>> rows = new ArrayList<>();
        for (int i = 0; i < Output.MAX_ROWS + 25; i++) rows.add(Map.of("node", "n" + i, "reason", "stays float"));
        Map<String, Object> section = new LinkedHashMap<>();
        section.put("skipped", rows);
        Map<String, Object> report = Map.of("MinMaxQuantization", section);

        ByteArrayOutputStream text = new ByteArrayOutputStream();
        Output.report(new PrintStream(text, true, StandardCharsets.UTF_8), report);
        String s = text.toString(StandardCharsets.UTF_8);
        assertTrue(s.contains("n" + (Output.MAX_ROWS - 1)) && !s.contains("n" + Output.MAX_ROWS + " "), s);
        assertTrue(s.contains("... 25 more rows (--json prints them all)"), s);

        ByteArrayOutputStream json = new ByteArrayOutputStream();
        Output.json(new PrintStream(json, true, StandardCharsets.UTF_8), report);
        assertEquals(Output.MAX_ROWS + 25, json.toString(StandardCharsets.UTF_8).split("stays float", -1).length - 1);
    }
}
