package org.ptq4j.plugins.data.text;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import org.pf4j.Extension;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.data.DatasetContext;
import org.ptq4j.spi.data.DatasetFactory;
import org.ptq4j.spi.data.Sample;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.param.ParamSpec;
import org.ptq4j.spi.param.ParamType;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Dataset {@code text}: one UTF-8 sentence per line, tokenized with a HuggingFace
 * {@code tokenizer.json} (through DJL's Rust tokenizers, loaded offline) into every input a
 * BERT-class model declares: {@code input_ids}, {@code attention_mask}, {@code token_type_ids}
 * (names and integer types taken from the model's inputs).
 * <p>
 * Samples carry no annotation: metrics that pool token states, such as {@code embedding_cosine},
 * read the attention mask from the model inputs.
 * <p>
 * Lines are selected by {@code skip} / {@code limit} (counted over the file's non-blank lines) and
 * tokenized once when the dataset opens, so {@link Dataset#get} is a cheap, thread-safe copy.
 * Padding {@code max_length} (default) makes every sample {@code max_length} tokens long, which
 * lets the host stack any samples into batches; {@code longest} pads to the longest selected line;
 * {@code none} leaves lengths as they are (batch size 1 only).
 */
@Extension
public final class TextDatasetFactory implements DatasetFactory {

    @Override public String type() { return "text"; }

    @Override public String description() { return "lines of text tokenized with a HuggingFace tokenizer.json (BERT-class inputs)"; }

    @Override
    public List<ParamSpec> parameters() {
        return List.of(
                ParamSpec.path("path", "text file, UTF-8, one sentence per line").asRequired(),
                ParamSpec.path("tokenizer", "HuggingFace tokenizer.json").asRequired(),
                ParamSpec.integer("max_length", 128, "tokens per sample, special tokens included").withRange(2.0, 1_000_000.0),
                ParamSpec.choice("padding", "max_length", "pad every sample to max_length, to the longest selected line, or not at all",
                        "max_length", "longest", "none"),
                ParamSpec.bool("truncation", true, "cut lines longer than max_length (else such a line is an error)"),
                ParamSpec.bool("add_special_tokens", true, "add [CLS]/[SEP] (or the tokenizer's equivalents)"),
                ParamSpec.integer("skip", 0, "non-blank lines to skip at the start").withRange(0.0, null),
                new ParamSpec("limit", ParamType.INT, null, false, "at most this many lines (default: all)", null, 1.0, null, null));
    }

    @Override
    public Dataset open(Params params, DatasetContext context) {
        Path file = params.path("path").orElseThrow();
        Path tokFile = params.path("tokenizer").orElseThrow();
        int maxLength = params.getInt("max_length");
        String padding = params.getString("padding");
        boolean truncation = params.getBool("truncation");
        int skip = params.getInt("skip");
        int limit = params.integer("limit").orElse(Integer.MAX_VALUE);

        List<String> lines = new ArrayList<>();
        List<Integer> lineNumbers = new ArrayList<>();
        readLines(file, skip, limit, lines, lineNumbers);
        if (lines.isEmpty()) throw new PtqException("text dataset '" + file + "': no lines selected (skip " + skip + ", limit "
                + (limit == Integer.MAX_VALUE ? "none" : limit) + ")");
        List<Feed> feeds = feeds(context.modelInputs(), file);

        Encoding[] enc;
        try (HuggingFaceTokenizer tok = tokenizer(tokFile, maxLength, padding, truncation, params.getBool("add_special_tokens"))) {
            enc = tok.batchEncode(lines);
        }
        long[][][] columns = new long[3][lines.size()][];
        for (int i = 0; i < enc.length; i++) {
            long[] ids = enc[i].getIds();
            if (ids.length > maxLength) throw new PtqException("text dataset '" + file + "' line " + lineNumbers.get(i) + ": "
                    + ids.length + " tokens > max_length " + maxLength + " (set truncation: true or raise max_length)");
            columns[0][i] = ids;
            columns[1][i] = enc[i].getAttentionMask();
            columns[2][i] = enc[i].getTypeIds();
        }
        return new TextDataset(file, lines.size(), lineNumbers, feeds, columns);
    }

    /** Creates a tokenizer with the dataset's length policy; the native library comes from the DJL jar. */
    static HuggingFaceTokenizer tokenizer(Path tokFile, int maxLength, String padding, boolean truncation, boolean special) {
        if (!Files.isRegularFile(tokFile)) throw new PtqException("tokenizer '" + tokFile + "': no such file (expected a HuggingFace tokenizer.json)");
        configureDjl();
        HuggingFaceTokenizer.Builder b = HuggingFaceTokenizer.builder().optTokenizerPath(tokFile).optMaxLength(maxLength)
                .optTruncation(truncation).optAddSpecialTokens(special);
        switch (padding) {
            case "max_length" -> b.optPadToMaxLength();
            case "longest" -> b.optPadding(true);
            default -> b.optPadding(false);
        }
        // DJL finds its native library and version file through the thread's context class loader; inside
        // the distribution this plugin's jar is only visible to the plugin's own class loader
        Thread t = Thread.currentThread();
        ClassLoader previous = t.getContextClassLoader();
        t.setContextClassLoader(TextDatasetFactory.class.getClassLoader());
        try {
            return b.build();
        } catch (IOException | RuntimeException e) {
            throw new PtqException("tokenizer '" + tokFile + "': cannot load it as a HuggingFace tokenizer.json: " + e.getMessage(), e);
        } finally {
            t.setContextClassLoader(previous);
        }
    }

    /**
     * DJL copies the tokenizer's native library out of its jar into a cache folder (default
     * {@code ~/.djl.ai}) and would download it when missing: forbid the download (the natives of
     * linux-x86_64/aarch64, osx-aarch64 and win-x86_64 are inside the jar) and use a temp folder
     * when the home folder is not writable.
     */
    private static synchronized void configureDjl() {
        if (System.getProperty("ai.djl.offline") == null) System.setProperty("ai.djl.offline", "true");
        if (System.getProperty("DJL_CACHE_DIR") == null && System.getenv("DJL_CACHE_DIR") == null) {
            Path home = Path.of(System.getProperty("user.home", "."));
            if (!Files.isWritable(home) && !Files.isWritable(home.resolve(".djl.ai")))
                System.setProperty("DJL_CACHE_DIR", Path.of(System.getProperty("java.io.tmpdir"), "ptq4j-djl").toString());
        }
    }

    /** Longest line read (characters): a file without line breaks is not a list of sentences. */
    static final int MAX_LINE = 1 << 20;

    /** Streams the file: only the selected lines are kept, reading stops after {@code limit} of them. */
    private static void readLines(Path file, int skip, int limit, List<String> lines, List<Integer> numbers) {
        if (!Files.isRegularFile(file)) throw new PtqException("text dataset '" + file + "': no such file");
        var decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT).onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT);
        try (java.io.Reader in = new java.io.BufferedReader(new java.io.InputStreamReader(Files.newInputStream(file), decoder))) {
            StringBuilder line = new StringBuilder();
            int seen = 0, number = 0;
            boolean end = false;
            while (!end && lines.size() < limit) {
                line.setLength(0);
                int c;
                while ((c = in.read()) != -1 && c != '\n') {
                    if (line.length() >= MAX_LINE)
                        throw new PtqException("text dataset '" + file + "' line " + (number + 1) + ": longer than " + MAX_LINE + " characters; expected one sentence per line");
                    line.append((char) c);
                }
                end = c == -1;
                number++;
                String s = line.toString().strip();
                if (s.isEmpty()) continue;
                if (seen++ < skip) continue;
                lines.add(s);
                numbers.add(number);
            }
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new PtqException("text dataset '" + file + "': not valid UTF-8", e);
        } catch (IOException e) {
            throw new PtqException("text dataset '" + file + "': cannot read it: " + e.getMessage(), e);
        }
    }

    /** Which tokenizer column feeds which model input. */
    record Feed(String input, int column, DType dtype) {}

    private static List<Feed> feeds(List<ValueInfo> inputs, Path file) {
        List<Feed> r = new ArrayList<>();
        for (ValueInfo v : inputs) {
            String n = v.name().toLowerCase(java.util.Locale.ROOT);
            int col = n.contains("input_ids") || n.equals("ids") ? 0 : n.contains("attention_mask") || n.equals("mask") ? 1
                    : n.contains("token_type_ids") || n.contains("segment_ids") ? 2 : -1;
            if (col < 0) throw new PtqException("text dataset '" + file + "': model input '" + v.name()
                    + "' is not one a tokenizer produces (expected input_ids, attention_mask, token_type_ids)");
            DType t = v.dtype() == null ? DType.INT64 : v.dtype();
            if (t != DType.INT64 && t != DType.INT32) throw new PtqException("text dataset '" + file + "': model input '" + v.name()
                    + "' is " + t + "; expected int64 or int32 token data");
            if (v.shape() != null && v.shape().size() != 2) throw new PtqException("text dataset '" + file + "': model input '" + v.name()
                    + "' has rank " + v.shape().size() + "; expected [batch, sequence]");
            r.add(new Feed(v.name(), col, t));
        }
        if (r.isEmpty()) throw new PtqException("text dataset '" + file + "': the model declares no inputs");
        return r;
    }

    /** Pre-tokenized lines. */
    private static final class TextDataset implements Dataset {
        private final Path file;
        private final int size;
        private final List<Integer> lineNumbers;
        private final List<Feed> feeds;
        private final long[][][] columns;

        TextDataset(Path file, int size, List<Integer> lineNumbers, List<Feed> feeds, long[][][] columns) {
            this.file = file;
            this.size = size;
            this.lineNumbers = lineNumbers;
            this.feeds = feeds;
            this.columns = columns;
        }

        @Override public int size() { return size; }

        @Override
        public Sample get(int index) {
            Map<String, Tensor> in = new LinkedHashMap<>();
            for (Feed f : feeds) {
                long[] v = columns[f.column()][index];
                Tensor t = Tensor.ofLongs(new long[]{v.length}, v);
                in.put(f.input(), f.dtype() == DType.INT64 ? t : t.to(f.dtype()));
            }
            return new Sample(index, file.getFileName() + ":" + lineNumbers.get(index), in, null);
        }

    }
}
