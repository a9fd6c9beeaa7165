package org.ptq4j.plugins.data.text;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.data.DatasetContext;
import org.ptq4j.spi.data.Sample;
import org.ptq4j.spi.model.Dim;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.tensor.DType;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** Tokenizes real text with the real all-MiniLM-L6-v2 tokenizer.json (unpacked from Maven Central by the build). */
class TextDatasetFactoryTest {
    static final Path TOKENIZER = Path.of(System.getProperty("ptq.tokenizer", "target/minilm/all-minilm-l6-v2-q-tokenizer.json"));
    static final Path SENTENCES = Path.of(System.getProperty("ptq.shared.dir", "../../../shared"), "data", "sentences-2k.txt");

    static final List<ValueInfo> BERT_INPUTS = List.of(
            new ValueInfo("input_ids", DType.INT64, List.of(Dim.named("batch"), Dim.named("seq"))),
            new ValueInfo("attention_mask", DType.INT64, List.of(Dim.named("batch"), Dim.named("seq"))),
            new ValueInfo("token_type_ids", DType.INT64, List.of(Dim.named("batch"), Dim.named("seq"))));

    static DatasetContext ctx(List<ValueInfo> inputs) {
        return new DatasetContext() {
            @Override public List<ValueInfo> modelInputs() { return inputs; }
            @Override public Path baseDir() { return Path.of("."); }
        };
    }

    static Params params(Path text, Object... kv) {
        Map<String, Object> m = new HashMap<>(Map.of("path", text, "tokenizer", TOKENIZER, "max_length", 128,
                "padding", "max_length", "truncation", true, "add_special_tokens", true, "skip", 0));
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return new Params(m);
    }

    @Test
    void tokenizesLikeBertWithPaddingToMaxLength(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("t.txt");
        Files.writeString(f, "Hello world\n\nthe quick brown fox\n");
        try (Dataset ds = new TextDatasetFactory().open(params(f, "max_length", 16), ctx(BERT_INPUTS))) {
            assertEquals(2, ds.size(), "blank lines are not samples");
            Sample s = ds.get(0);
            long[] ids = s.inputs().get("input_ids").longs();
            assertEquals(16, ids.length);
            // [CLS] hello world [SEP] in bert-base-uncased's vocabulary, then [PAD] = 0
            assertArrayEquals(new long[]{101, 7592, 2088, 102, 0}, java.util.Arrays.copyOf(ids, 5));
            assertArrayEquals(new long[]{1, 1, 1, 1, 0, 0}, java.util.Arrays.copyOf(s.inputs().get("attention_mask").longs(), 6));
            assertTrue(java.util.Arrays.stream(s.inputs().get("token_type_ids").longs()).allMatch(v -> v == 0));
            assertEquals(DType.INT64, s.inputs().get("input_ids").dtype());
            assertEquals("t.txt:3", ds.get(1).id(), "ids name the file line");
            assertNull(s.annotation(), "text samples carry no labels");
        }
    }

    @Test
    void skipLimitSelectLineRangesAndTruncationCaps() {
        try (Dataset calib = new TextDatasetFactory().open(params(SENTENCES, "limit", 300), ctx(BERT_INPUTS));
             Dataset eval = new TextDatasetFactory().open(params(SENTENCES, "skip", 1000, "limit", 1000, "max_length", 8), ctx(BERT_INPUTS))) {
            assertEquals(300, calib.size());
            assertEquals(1000, eval.size());
            assertEquals("sentences-2k.txt:1001", eval.get(0).id());
            for (int i = 0; i < 50; i++) {
                long[] ids = eval.get(i).inputs().get("input_ids").longs();
                assertEquals(8, ids.length);
                assertEquals(101, ids[0]);
            }
        }
    }

    @Test
    void longestPadsToLongestLineAndInt32InputsAreConverted(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("t.txt");
        Files.writeString(f, "a\na b c d e\n");
        List<ValueInfo> int32 = List.of(new ValueInfo("input_ids", DType.INT32, null), new ValueInfo("attention_mask", DType.INT32, null));
        try (Dataset ds = new TextDatasetFactory().open(params(f, "padding", "longest"), ctx(int32))) {
            assertEquals(7, ds.get(0).inputs().get("input_ids").numElements());
            assertEquals(7, ds.get(1).inputs().get("input_ids").numElements());
            assertEquals(DType.INT32, ds.get(0).inputs().get("attention_mask").dtype());
            assertEquals(2, ds.get(0).inputs().size());
        }
    }

    @Test
    void badInputIsAPtqExceptionNamingTheCulprit(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("t.txt");
        Files.writeString(f, "one two three four five six seven\n");
        TextDatasetFactory fac = new TextDatasetFactory();
        PtqException e = assertThrows(PtqException.class, () -> fac.open(params(dir.resolve("missing.txt")), ctx(BERT_INPUTS)));
        assertTrue(e.getMessage().contains("missing.txt"), e.getMessage());
        e = assertThrows(PtqException.class, () -> fac.open(params(f, "tokenizer", f), ctx(BERT_INPUTS)));
        assertTrue(e.getMessage().contains("tokenizer") && e.getMessage().contains("t.txt"), e.getMessage());
        e = assertThrows(PtqException.class, () -> fac.open(params(f, "max_length", 4, "truncation", false), ctx(BERT_INPUTS)));
        assertTrue(e.getMessage().contains("line 1") && e.getMessage().contains("max_length"), e.getMessage());
        e = assertThrows(PtqException.class, () -> fac.open(params(f), ctx(List.of(new ValueInfo("pixel_values", DType.FLOAT, null)))));
        assertTrue(e.getMessage().contains("pixel_values"), e.getMessage());
        e = assertThrows(PtqException.class, () -> fac.open(params(f, "skip", 5), ctx(BERT_INPUTS)));
        assertTrue(e.getMessage().contains("no lines selected"), e.getMessage());
    }

    @Test
    void hugeTextFilesAreStreamedAndALineWithoutEndIsRefused(@TempDir Path dir) throws Exception {
        TextDatasetFactory fac = new TextDatasetFactory();
        // 3 GB (sparse) after two sentences: with a limit, only the first lines are read
        Path big = dir.resolve("big.txt");
        Files.writeString(big, "one sentence\nanother sentence\n");
        try (var f = new java.io.RandomAccessFile(big.toFile(), "rw")) { f.setLength(3L << 30); }
        try (var ds = fac.open(params(big, "limit", 2), ctx(BERT_INPUTS))) { assertEquals(2, ds.size()); }
        // without a limit the NUL bytes are one endless line: refused naming file and line, not read into memory
        PtqException e = assertThrows(PtqException.class, () -> fac.open(params(big), ctx(BERT_INPUTS)));
        assertEquals("text dataset '" + big + "' line 3: longer than 1048576 characters; expected one sentence per line", e.getMessage());
        Path bad = dir.resolve("latin1.txt");
        Files.write(bad, new byte[]{'o', 'k', '\n', (byte) 0xe9, '\n'});
        e = assertThrows(PtqException.class, () -> fac.open(params(bad), ctx(BERT_INPUTS)));
        assertEquals("text dataset '" + bad + "': not valid UTF-8", e.getMessage());
    }
}
