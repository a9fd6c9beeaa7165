package org.ptq4j.spi.model;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class AnnotationKeyTest {
    @Test
    void typedAccessToTheStandardAnnotations() {
        Model fp32 = new Model(new Graph("g"), Map.of("", 13L), 8);
        Model q = fp32.copy();
        assertEquals("ptq.quantized_layers", AnnotationKey.QUANTIZED_LAYERS.name());
        assertEquals("ptq.fp32_model", AnnotationKey.FP32_MODEL.name());
        assertTrue(AnnotationKey.QUANTIZED_LAYERS.get(q).isEmpty());
        AnnotationKey.QUANTIZED_LAYERS.put(q, List.of("conv1", "fc"));
        AnnotationKey.FP32_MODEL.putIfAbsent(q, fp32);
        AnnotationKey.FP32_MODEL.putIfAbsent(q, q);
        assertEquals(List.of("conv1", "fc"), AnnotationKey.QUANTIZED_LAYERS.get(q).orElseThrow());
        assertSame(fp32, AnnotationKey.FP32_MODEL.get(q).orElseThrow());
        q.annotations().put("ptq.fp32_model", "not a model");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> AnnotationKey.FP32_MODEL.get(q));
        assertEquals("annotation 'ptq.fp32_model' holds a java.lang.String, expected org.ptq4j.spi.model.Model", e.getMessage());
    }
}
