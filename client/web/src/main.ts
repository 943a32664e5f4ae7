import { mount } from 'svelte';
import App from './App.svelte';
import { apiUrl } from './lib/config';
import { Connection } from './lib/connection';
import { Router } from './lib/router';
import { ThemeStore } from './lib/theme';
import { randomStudentName } from './lib/token';
import { ROUTES } from './routes';
import './app.css';

// `?name=alice` picks the display name; otherwise a random `student-1234`.
const name = new URLSearchParams(location.search).get('name')?.trim() || randomStudentName();

const connection = new Connection({ name, url: apiUrl() });
const themes = new ThemeStore();
const router = new Router(ROUTES);
const target = document.getElementById('app');
if (!target) throw new Error('#app is missing from index.html');

mount(App, { target, props: { services: { connection, themes }, router } });
connection.start();
