// Where an export is in the API: the paths its views and the links of in-app notices write. Apart from the API's
// declaration, so that a worker can write a notice's link without bundling the HTTP API.
export const exportPath = (jobId: string): string => `/api/v1/reports/exports/${jobId}`
export const downloadPath = (jobId: string): string => `${exportPath(jobId)}/download`
