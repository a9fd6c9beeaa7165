package org.ptq4j.spark;

import org.ptq4j.host.run.Recipe;

import java.io.Serializable;
import java.util.List;

/**
 * What every shard of one pass needs, by value: where the plugins are, the models by path, how to
 * reopen the dataset (and metric), the engine settings, and (statistics) the requests as bytes.
 *
 * @param registryKey  the driver's plugin registry, reused by executors in the driver's JVM
 * @param pluginDirs   plugin folders, loaded by executors in other JVMs
 * @param model        path of the model to run
 * @param reference    path of the reference model, or null
 * @param dataset      how to open the dataset
 * @param metric       how to create the metric (evaluation), or null (statistics)
 * @param requests     the serialized {@code List<StatisticRequest>} (statistics), or null
 */
record Job(String registryKey, List<String> pluginDirs, String model, String reference, Recipe dataset, Recipe metric,
           byte[] requests, int threads, int batchSize) implements Serializable {}
