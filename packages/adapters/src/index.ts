/** Methods of this family land here; see the package README for what is planned. */
export {};
