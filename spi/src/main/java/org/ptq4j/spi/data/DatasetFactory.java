package org.ptq4j.spi.data;

import org.pf4j.ExtensionPoint;
import org.ptq4j.spi.param.ParamSpec;
import org.ptq4j.spi.param.Params;

import java.util.List;

/** Extension point: a kind of dataset ({@code type:} in YAML), e.g. {@code numpy} or {@code image_folder}. */
public interface DatasetFactory extends ExtensionPoint {
    /** The {@code type} value in YAML. */
    String type();

    String description();

    List<ParamSpec> parameters();

    /**
     * Opens a dataset. Throw {@link org.ptq4j.spi.PtqException} with a message naming the file or
     * key when the input is bad.
     */
    Dataset open(Params params, DatasetContext context);
}
