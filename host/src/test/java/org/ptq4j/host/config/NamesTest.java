package org.ptq4j.host.config;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;

class NamesTest {
    @Test
    void nearestByEditDistance() {
        List<String> c = List.of("preset", "stat_subset_size", "ignored");
        assertEquals(Optional.of("stat_subset_size"), Names.nearest("stat_subset_sise", c));
        assertEquals(Optional.of("preset"), Names.nearest("presets", c));
        assertEquals(Optional.empty(), Names.nearest("zzzz", c));
        assertEquals(3, Names.distance("kitten", "sitting"));
    }
}
