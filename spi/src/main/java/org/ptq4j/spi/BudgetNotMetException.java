package org.ptq4j.spi;

import org.ptq4j.spi.model.Model;

/**
 * An algorithm with an accuracy budget (e.g. {@code AccuracyAwareQuantization}) could not meet it.
 * It carries the best model found, which the runner should still write before exiting non-zero.
 */
public class BudgetNotMetException extends PtqException {
    private final transient Model bestModel;
    private final double achievedDrop;
    private final double maximalDrop;

    public BudgetNotMetException(String message, Model bestModel, double achievedDrop, double maximalDrop) {
        super(message);
        this.bestModel = bestModel;
        this.achievedDrop = achievedDrop;
        this.maximalDrop = maximalDrop;
    }

    /** The model with the smallest drop found (never null). */
    public Model bestModel() { return bestModel; }

    /** The drop of {@link #bestModel()}, in the unit of the budget (absolute or relative). */
    public double achievedDrop() { return achievedDrop; }

    public double maximalDrop() { return maximalDrop; }
}
