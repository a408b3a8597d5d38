/**
 * Sub-models of a plain CNN as plain data: a {@link org.dsparse.core.submodel.SubModelSpec} names the
 * filters a device keeps in each convolution layer and the classes its classifier keeps, and picks
 * the ones most relevant to the device's classes. The training module extracts, trains and
 * assembles the tensors ({@code org.dsparse.training.submodel}); the job's planning sizes each
 * device's share. Pure Java and deterministic, like the rest of core: it uses only the JDK and must
 * not depend on DJL, Pekko or any other dsparse module.
 */
package org.dsparse.core.submodel;
