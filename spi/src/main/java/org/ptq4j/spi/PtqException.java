package org.ptq4j.spi;

/**
 * A problem with the user's input (model, data, configuration): the message says which file, key
 * or tensor and what was expected. The CLI prints it without a stack trace and exits with code 2.
 * Any other exception is an internal failure (exit code 1).
 */
public class PtqException extends RuntimeException {
    public PtqException(String message) { super(message); }

    public PtqException(String message, Throwable cause) { super(message, cause); }
}
