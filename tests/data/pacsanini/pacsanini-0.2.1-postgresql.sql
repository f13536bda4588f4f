--
-- PostgreSQL database dump
--


-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: images; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.images (
    id integer NOT NULL,
    series_id integer,
    institution character varying,
    patient_id character varying,
    patient_name character varying,
    study_uid character varying,
    study_date timestamp without time zone,
    series_uid character varying,
    modality character varying,
    sop_class_uid character varying,
    image_uid character varying,
    acquisition_time double precision,
    manufacturer character varying,
    manufacturer_model_name character varying,
    meta json,
    filepath character varying
);


--
-- Name: images_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.images_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: images_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.images_id_seq OWNED BY public.images.id;


--
-- Name: patients; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.patients (
    id integer NOT NULL,
    patient_id character varying,
    patient_name character varying,
    patient_birth_date timestamp without time zone,
    institution character varying
);


--
-- Name: patients_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.patients_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: patients_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.patients_id_seq OWNED BY public.patients.id;


--
-- Name: series; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.series (
    id integer NOT NULL,
    study_id integer,
    series_uid character varying,
    modality character varying
);


--
-- Name: series_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.series_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: series_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.series_id_seq OWNED BY public.series.id;


--
-- Name: studies; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.studies (
    id integer NOT NULL,
    study_find_id integer,
    patient_id integer,
    study_uid character varying,
    study_date timestamp without time zone,
    patient_age integer,
    accession_number character varying
);


--
-- Name: studies_find; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.studies_find (
    id integer NOT NULL,
    patient_name character varying,
    patient_id character varying,
    study_uid character varying,
    study_date timestamp without time zone,
    accession_number character varying,
    retrieved_on timestamp without time zone,
    found_on timestamp without time zone
);


--
-- Name: studies_find_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.studies_find_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: studies_find_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.studies_find_id_seq OWNED BY public.studies_find.id;


--
-- Name: studies_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.studies_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: studies_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.studies_id_seq OWNED BY public.studies.id;


--
-- Name: images id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.images ALTER COLUMN id SET DEFAULT nextval('public.images_id_seq'::regclass);


--
-- Name: patients id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.patients ALTER COLUMN id SET DEFAULT nextval('public.patients_id_seq'::regclass);


--
-- Name: series id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.series ALTER COLUMN id SET DEFAULT nextval('public.series_id_seq'::regclass);


--
-- Name: studies id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.studies ALTER COLUMN id SET DEFAULT nextval('public.studies_id_seq'::regclass);


--
-- Name: studies_find id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.studies_find ALTER COLUMN id SET DEFAULT nextval('public.studies_find_id_seq'::regclass);


--
-- Data for Name: images; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.images (id, series_id, institution, patient_id, patient_name, study_uid, study_date, series_uid, modality, sop_class_uid, image_uid, acquisition_time, manufacturer, manufacturer_model_name, meta, filepath) FROM stdin;
1	1	PACSANINI	PSN002	\N	1.2.826.0.1.3680043.10.1341.77.3	2021-11-20 00:00:00	1.2.826.0.1.3680043.10.1341.77.3.1	CR	1.2.840.10008.5.1.4.1.1.2	1.2.826.0.1.3680043.10.1341.77.3.1.1	235959.999999	ACME	Model 1	{"00080005": {"vr": "CS", "Value": ["ISO_IR 100"], "Name": "SpecificCharacterSet"}, "00080016": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.2"], "Name": "SopClassUid"}, "00080018": {"vr": "UI", "Value": ["1.2.826.0.1.3680043.10.1341.77.3.1.1"], "Name": "SopInstanceUid"}, "00080020": {"vr": "DA", "Value": ["20211120"], "Name": "StudyDate"}, "00080032": {"vr": "TM", "Value": ["235959.999999"], "Name": "AcquisitionTime"}, "00080050": {"vr": "SH", "Value": ["PA3"], "Name": "AccessionNumber"}, "00080060": {"vr": "CS", "Value": ["CR"], "Name": "Modality"}, "00080070": {"vr": "LO", "Value": ["ACME"], "Name": "Manufacturer"}, "00081090": {"vr": "LO", "Value": ["Model 1"], "Name": "Manufacturer'sModelName"}, "00100020": {"vr": "LO", "Value": ["PSN002"], "Name": "PatientId"}, "00100030": {"vr": "DA", "Value": ["19751212"], "Name": "Patient'sBirthDate"}, "0020000D": {"vr": "UI", "Value": ["1.2.826.0.1.3680043.10.1341.77.3"], "Name": "StudyInstanceUid"}, "0020000E": {"vr": "UI", "Value": ["1.2.826.0.1.3680043.10.1341.77.3.1"], "Name": "SeriesInstanceUid"}, "00200011": {"vr": "IS", "Value": [1], "Name": "SeriesNumber"}, "00200013": {"vr": "IS", "Value": [1], "Name": "InstanceNumber"}, "7FE00010": {"vr": "OB or OW", "Name": "PixelData"}}	/work/main/tests/data/pacsanini/files/3/3.1/3.1.1.dcm
2	1	PACSANINI	PSN002	\N	1.2.826.0.1.3680043.10.1341.77.3	2021-11-20 00:00:00	1.2.826.0.1.3680043.10.1341.77.3.1	CR	1.2.840.10008.5.1.4.1.1.2	1.2.826.0.1.3680043.10.1341.77.3.1.2	12	ACME	Model 1	{"00080005": {"vr": "CS", "Value": ["ISO_IR 100"], "Name": "SpecificCharacterSet"}, "00080016": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.2"], "Name": "SopClassUid"}, "00080018": {"vr": "UI", "Value": ["1.2.826.0.1.3680043.10.1341.77.3.1.2"], "Name": "SopInstanceUid"}, "00080020": {"vr": "DA", "Value": ["20211120"], "Name": "StudyDate"}, "00080032": {"vr": "TM", "Value": ["12"], "Name": "AcquisitionTime"}, "00080050": {"vr": "SH", "Value": ["PA3"], "Name": "AccessionNumber"}, "00080060": {"vr": "CS", "Value": ["CR"], "Name": "Modality"}, "00080070": {"vr": "LO", "Value": ["ACME"], "Name": "Manufacturer"}, "00081090": {"vr": "LO", "Value": ["Model 1"], "Name": "Manufacturer'sModelName"}, "00100020": {"vr": "LO", "Value": ["PSN002"], "Name": "PatientId"}, "00100030": {"vr": "DA", "Value": ["19751212"], "Name": "Patient'sBirthDate"}, "0020000D": {"vr": "UI", "Value": ["1.2.826.0.1.3680043.10.1341.77.3"], "Name": "StudyInstanceUid"}, "0020000E": {"vr": "UI", "Value": ["1.2.826.0.1.3680043.10.1341.77.3.1"], "Name": "SeriesInstanceUid"}, "00200011": {"vr": "IS", "Value": [1], "Name": "SeriesNumber"}, "00200013": {"vr": "IS", "Value": [2], "Name": "InstanceNumber"}, "7FE00010": {"vr": "OB or OW", "Name": "PixelData"}}	/work/main/tests/data/pacsanini/files/3/3.1/3.1.2.dcm
3	3	PACSANINI	PSN001	\N	1.2.826.0.1.3680043.10.1341.77.2	2021-09-15 00:00:00	1.2.826.0.1.3680043.10.1341.77.2.1	MR	1.2.840.10008.5.1.4.1.1.2	1.2.826.0.1.3680043.10.1341.77.2.1.1	93000	Other Corp	Model 1	{"00080005": {"vr": "CS", "Value": ["ISO_IR 100"], "Name": "SpecificCharacterSet"}, "00080016": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.2"], "Name": "SopClassUid"}, "00080018": {"vr": "UI", "Value": ["1.2.826.0.1.3680043.10.1341.77.2.1.1"], "Name": "SopInstanceUid"}, "00080020": {"vr": "DA", "Value": ["20210915"], "Name": "StudyDate"}, "00080032": {"vr": "TM", "Value": ["093000"], "Name": "AcquisitionTime"}, "00080050": {"vr": "SH", "Value": ["PA2"], "Name": "AccessionNumber"}, "00080060": {"vr": "CS", "Value": ["MR"], "Name": "Modality"}, "00080070": {"vr": "LO", "Value": ["Other Corp"], "Name": "Manufacturer"}, "00081090": {"vr": "LO", "Value": ["Model 1"], "Name": "Manufacturer'sModelName"}, "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Alpha^Ann"}], "Name": "Patient'sName"}, "00100020": {"vr": "LO", "Value": ["PSN001"], "Name": "PatientId"}, "00100030": {"vr": "DA", "Value": ["19600102"], "Name": "Patient'sBirthDate"}, "00101010": {"vr": "AS", "Value": ["064Y"], "Name": "Patient'sAge"}, "0020000D": {"vr": "UI", "Value": ["1.2.826.0.1.3680043.10.1341.77.2"], "Name": "StudyInstanceUid"}, "0020000E": {"vr": "UI", "Value": ["1.2.826.0.1.3680043.10.1341.77.2.1"], "Name": "SeriesInstanceUid"}, "00200011": {"vr": "IS", "Value": [1], "Name": "SeriesNumber"}, "00200013": {"vr": "IS", "Value": [1], "Name": "InstanceNumber"}, "7FE00010": {"vr": "OB or OW", "Name": "PixelData"}}	/work/main/tests/data/pacsanini/files/2/2.1/2.1.1.dcm
4	4	PACSANINI	PSN001	\N	1.2.826.0.1.3680043.10.1341.77.1	2021-03-01 00:00:00	1.2.826.0.1.3680043.10.1341.77.1.1	CT	1.2.840.10008.5.1.4.1.1.2	1.2.826.0.1.3680043.10.1341.77.1.1.2	101531	ACME	Model 1	{"00080005": {"vr": "CS", "Value": ["ISO_IR 100"], "Name": "SpecificCharacterSet"}, "00080016": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.2"], "Name": "SopClassUid"}, "00080018": {"vr": "UI", "Value": ["1.2.826.0.1.3680043.10.1341.77.1.1.2"], "Name": "SopInstanceUid"}, "00080020": {"vr": "DA", "Value": ["20210301"], "Name": "StudyDate"}, "00080032": {"vr": "TM", "Value": ["101531"], "Name": "AcquisitionTime"}, "00080050": {"vr": "SH", "Value": ["PA1"], "Name": "AccessionNumber"}, "00080060": {"vr": "CS", "Value": ["CT"], "Name": "Modality"}, "00080070": {"vr": "LO", "Value": ["ACME"], "Name": "Manufacturer"}, "00081090": {"vr": "LO", "Value": ["Model 1"], "Name": "Manufacturer'sModelName"}, "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Alpha^Ann"}], "Name": "Patient'sName"}, "00100020": {"vr": "LO", "Value": ["PSN001"], "Name": "PatientId"}, "00100030": {"vr": "DA", "Value": ["19600102"], "Name": "Patient'sBirthDate"}, "00101010": {"vr": "AS", "Value": ["064Y"], "Name": "Patient'sAge"}, "0020000D": {"vr": "UI", "Value": ["1.2.826.0.1.3680043.10.1341.77.1"], "Name": "StudyInstanceUid"}, "0020000E": {"vr": "UI", "Value": ["1.2.826.0.1.3680043.10.1341.77.1.1"], "Name": "SeriesInstanceUid"}, "00200011": {"vr": "IS", "Value": [1], "Name": "SeriesNumber"}, "00200013": {"vr": "IS", "Value": [2], "Name": "InstanceNumber"}, "7FE00010": {"vr": "OB or OW", "Name": "PixelData"}}	/work/main/tests/data/pacsanini/files/1/1.1/1.1.2.dcm
5	4	PACSANINI	PSN001	\N	1.2.826.0.1.3680043.10.1341.77.1	2021-03-01 00:00:00	1.2.826.0.1.3680043.10.1341.77.1.1	CT	1.2.840.10008.5.1.4.1.1.2	1.2.826.0.1.3680043.10.1341.77.1.1.1	101530.25	ACME	Model 1	{"00080005": {"vr": "CS", "Value": ["ISO_IR 100"], "Name": "SpecificCharacterSet"}, "00080016": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.2"], "Name": "SopClassUid"}, "00080018": {"vr": "UI", "Value": ["1.2.826.0.1.3680043.10.1341.77.1.1.1"], "Name": "SopInstanceUid"}, "00080020": {"vr": "DA", "Value": ["20210301"], "Name": "StudyDate"}, "00080032": {"vr": "TM", "Value": ["101530.250"], "Name": "AcquisitionTime"}, "00080050": {"vr": "SH", "Value": ["PA1"], "Name": "AccessionNumber"}, "00080060": {"vr": "CS", "Value": ["CT"], "Name": "Modality"}, "00080070": {"vr": "LO", "Value": ["ACME"], "Name": "Manufacturer"}, "00081090": {"vr": "LO", "Value": ["Model 1"], "Name": "Manufacturer'sModelName"}, "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Alpha^Ann"}], "Name": "Patient'sName"}, "00100020": {"vr": "LO", "Value": ["PSN001"], "Name": "PatientId"}, "00100030": {"vr": "DA", "Value": ["19600102"], "Name": "Patient'sBirthDate"}, "00101010": {"vr": "AS", "Value": ["064Y"], "Name": "Patient'sAge"}, "0020000D": {"vr": "UI", "Value": ["1.2.826.0.1.3680043.10.1341.77.1"], "Name": "StudyInstanceUid"}, "0020000E": {"vr": "UI", "Value": ["1.2.826.0.1.3680043.10.1341.77.1.1"], "Name": "SeriesInstanceUid"}, "00200011": {"vr": "IS", "Value": [1], "Name": "SeriesNumber"}, "00200013": {"vr": "IS", "Value": [1], "Name": "InstanceNumber"}, "7FE00010": {"vr": "OB or OW", "Name": "PixelData"}}	/work/main/tests/data/pacsanini/files/1/1.1/1.1.1.dcm
6	6	PACSANINI	PSN001	\N	1.2.826.0.1.3680043.10.1341.77.1	2021-03-01 00:00:00	1.2.826.0.1.3680043.10.1341.77.1.2	CT	1.2.840.10008.5.1.4.1.1.2	1.2.826.0.1.3680043.10.1341.77.1.2.1	-1	ACME	Model 1	{"00080005": {"vr": "CS", "Value": ["ISO_IR 100"], "Name": "SpecificCharacterSet"}, "00080016": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.2"], "Name": "SopClassUid"}, "00080018": {"vr": "UI", "Value": ["1.2.826.0.1.3680043.10.1341.77.1.2.1"], "Name": "SopInstanceUid"}, "00080020": {"vr": "DA", "Value": ["20210301"], "Name": "StudyDate"}, "00080050": {"vr": "SH", "Value": ["PA1"], "Name": "AccessionNumber"}, "00080060": {"vr": "CS", "Value": ["CT"], "Name": "Modality"}, "00080070": {"vr": "LO", "Value": ["ACME"], "Name": "Manufacturer"}, "00081090": {"vr": "LO", "Value": ["Model 1"], "Name": "Manufacturer'sModelName"}, "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Alpha^Ann"}], "Name": "Patient'sName"}, "00100020": {"vr": "LO", "Value": ["PSN001"], "Name": "PatientId"}, "00100030": {"vr": "DA", "Value": ["19600102"], "Name": "Patient'sBirthDate"}, "00101010": {"vr": "AS", "Value": ["064Y"], "Name": "Patient'sAge"}, "0020000D": {"vr": "UI", "Value": ["1.2.826.0.1.3680043.10.1341.77.1"], "Name": "StudyInstanceUid"}, "0020000E": {"vr": "UI", "Value": ["1.2.826.0.1.3680043.10.1341.77.1.2"], "Name": "SeriesInstanceUid"}, "00200011": {"vr": "IS", "Value": [2], "Name": "SeriesNumber"}, "00200013": {"vr": "IS", "Value": [1], "Name": "InstanceNumber"}, "7FE00010": {"vr": "OB or OW", "Name": "PixelData"}}	/work/main/tests/data/pacsanini/files/1/1.2/1.2.1.dcm
\.


--
-- Data for Name: patients; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.patients (id, patient_id, patient_name, patient_birth_date, institution) FROM stdin;
1	PSN002	\N	1975-12-12 00:00:00	PACSANINI
3	PSN001	Alpha^Ann	1960-01-02 00:00:00	PACSANINI
\.


--
-- Data for Name: series; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.series (id, study_id, series_uid, modality) FROM stdin;
1	1	1.2.826.0.1.3680043.10.1341.77.3.1	CR
3	3	1.2.826.0.1.3680043.10.1341.77.2.1	MR
4	4	1.2.826.0.1.3680043.10.1341.77.1.1	CT
6	4	1.2.826.0.1.3680043.10.1341.77.1.2	CT
\.


--
-- Data for Name: studies; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.studies (id, study_find_id, patient_id, study_uid, study_date, patient_age, accession_number) FROM stdin;
1	\N	1	1.2.826.0.1.3680043.10.1341.77.3	2021-11-20 00:00:00	-1	PA3
3	\N	3	1.2.826.0.1.3680043.10.1341.77.2	2021-09-15 00:00:00	64	PA2
4	\N	3	1.2.826.0.1.3680043.10.1341.77.1	2021-03-01 00:00:00	64	PA1
\.


--
-- Data for Name: studies_find; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.studies_find (id, patient_name, patient_id, study_uid, study_date, accession_number, retrieved_on, found_on) FROM stdin;
3	Nine^Nina	PSN009	1.2.826.0.1.3680043.10.1341.77.9	2022-01-01 00:00:00	PA9	\N	2026-11-30 21:18:37.045399
4	Ten^Tom	PSN010	study1	2022-02-02 00:00:00	PA10	\N	2026-11-30 21:18:37.045826
1	Alpha^Ann	PSN001	1.2.826.0.1.3680043.10.1341.77.1	2021-03-01 00:00:00	PA1	2026-11-30 21:18:37.04734	2026-11-30 21:18:37.043714
2	Alpha^Ann	PSN001	1.2.826.0.1.3680043.10.1341.77.2	2021-09-15 00:00:00	PA2	2026-11-30 21:18:37.048372	2026-11-30 21:18:37.044814
\.


--
-- Name: images_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.images_id_seq', 6, true);


--
-- Name: patients_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.patients_id_seq', 6, true);


--
-- Name: series_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.series_id_seq', 6, true);


--
-- Name: studies_find_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.studies_find_id_seq', 4, true);


--
-- Name: studies_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.studies_id_seq', 6, true);


--
-- Name: images images_image_uid_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.images
    ADD CONSTRAINT images_image_uid_key UNIQUE (image_uid);


--
-- Name: images images_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.images
    ADD CONSTRAINT images_pkey PRIMARY KEY (id);


--
-- Name: patients patients_patient_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.patients
    ADD CONSTRAINT patients_patient_id_key UNIQUE (patient_id);


--
-- Name: patients patients_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.patients
    ADD CONSTRAINT patients_pkey PRIMARY KEY (id);


--
-- Name: series series_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.series
    ADD CONSTRAINT series_pkey PRIMARY KEY (id);


--
-- Name: series series_series_uid_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.series
    ADD CONSTRAINT series_series_uid_key UNIQUE (series_uid);


--
-- Name: studies_find studies_find_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.studies_find
    ADD CONSTRAINT studies_find_pkey PRIMARY KEY (id);


--
-- Name: studies studies_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.studies
    ADD CONSTRAINT studies_pkey PRIMARY KEY (id);


--
-- Name: studies studies_study_uid_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.studies
    ADD CONSTRAINT studies_study_uid_key UNIQUE (study_uid);


--
-- Name: ix_images_patient_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_images_patient_id ON public.images USING btree (patient_id);


--
-- Name: ix_images_study_uid; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_images_study_uid ON public.images USING btree (study_uid);


--
-- Name: ix_studies_find_study_uid; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX ix_studies_find_study_uid ON public.studies_find USING btree (study_uid);


--
-- Name: images images_series_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.images
    ADD CONSTRAINT images_series_id_fkey FOREIGN KEY (series_id) REFERENCES public.series(id);


--
-- Name: series series_study_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.series
    ADD CONSTRAINT series_study_id_fkey FOREIGN KEY (study_id) REFERENCES public.studies(id);


--
-- Name: studies studies_patient_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.studies
    ADD CONSTRAINT studies_patient_id_fkey FOREIGN KEY (patient_id) REFERENCES public.patients(id);


--
-- Name: studies studies_study_find_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.studies
    ADD CONSTRAINT studies_study_find_id_fkey FOREIGN KEY (study_find_id) REFERENCES public.studies_find(id);


--
-- PostgreSQL database dump complete
--


