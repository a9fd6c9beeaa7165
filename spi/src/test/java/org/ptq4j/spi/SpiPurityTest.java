package org.ptq4j.spi;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import org.junit.jupiter.api.Test;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The spi is what every plugin compiles against: it must not expose (or even use) ONNX Runtime,
 * protobuf or the host, so that plugins never bind to the engine's own types.
 */
class SpiPurityTest {
    private final JavaClasses spi = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("org.ptq4j.spi");

    @Test
    void spiHasClasses() {
        assertTrue(spi.size() > 20, "imported " + spi.size() + " spi classes");
    }

    @Test
    void noOnnxRuntimeProtobufOrHostTypes() {
        ArchRule rule = noClasses().that().resideInAPackage("org.ptq4j.spi..")
                .should().dependOnClassesThat().resideInAnyPackage("ai.onnxruntime..", "com.google.protobuf..", "onnx..", "org.ptq4j.host..")
                .because("plugins compile against spi alone; engine and serialization types stay in the host");
        rule.check(spi);
    }

    @Test
    void onlyJdkPf4jAndSlf4jAreUsed() {
        noClasses().that().resideInAPackage("org.ptq4j.spi..")
                .should().dependOnClassesThat().resideOutsideOfPackages("org.ptq4j.spi..", "java..", "javax.annotation..", "org.pf4j..", "org.slf4j..")
                .check(spi);
    }
}
